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
            // R8 shrinks and renames; proguard-rules.pro keeps what ExecuTorch's JNI layer finds by name.
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
            // A demo: signed with the debug key so that the minified build installs as it is
            // (./gradlew installRelease). Sign with your own key before publishing anything.
            signingConfig = signingConfigs.getByName("debug")
        }
    }
}

dependencies {
    implementation(project(":core"))
    implementation("org.pytorch:executorch-android:$executorchVersion")
}

// The programs the app runs: the int8 one it enhances with, the fp32 one the benchmark compares.
// android_demo/tools/bundle_model.sh exports both into the assets.
val checkModelAsset by tasks.registering {
    val assets = listOf(file("src/main/assets/cea-edge.pte"), file("src/main/assets/cea-edge-fp32.pte"))
    doLast {
        for (asset in assets) {
            if (!asset.isFile) {
                throw GradleException(
                    "app/src/main/assets/${asset.name} is missing: run android_demo/tools/bundle_model.sh " +
                        "from the repository root (it exports int8 and fp32 with python -m cea_edge.export)"
                )
            }
        }
    }
}
tasks.named("preBuild") { dependsOn(checkModelAsset) }
