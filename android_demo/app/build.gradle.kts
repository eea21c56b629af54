plugins {
    id("com.android.application")
}

val executorchVersion: String by project

android {
    namespace = "org.ceaedge.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.ceaedge.demo"
        minSdk = 23 // the ExecuTorch AAR's minimum
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            // The ABIs the ExecuTorch AAR ships: 64-bit ARM phones, and x86_64 emulators.
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }

    androidResources {
        // Stored, not deflated: the model is copied out once, and an uncompressed asset streams.
        noCompress += "pte"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
}

dependencies {
    implementation(project(":core"))
    implementation("org.pytorch:executorch-android:$executorchVersion")
}

// The model is not in git: android_demo/tools/bundle_model.sh exports it into the assets.
val checkModelAsset by tasks.registering {
    val asset = file("src/main/assets/cea-edge.pte")
    doLast {
        if (!asset.isFile) {
            throw GradleException(
                "app/src/main/assets/cea-edge.pte is missing: run android_demo/tools/bundle_model.sh " +
                    "from the repository root (it exports the int8 model with python -m cea_edge.export)"
            )
        }
    }
}
tasks.named("preBuild") { dependsOn(checkModelAsset) }
