// The pure-Java core the app and the tests share: no android.*, Java 8 class files without
// invokedynamic (tools/test_core.sh checks both; the packaging check's dx reads nothing newer).
plugins {
    `java-library`
}

tasks.named<JavaCompile>("compileJava") {
    options.release.set(8)
}

tasks.named<JavaCompile>("compileTestJava") {
    options.release.set(17)
}

dependencies {
    testImplementation(platform("org.junit:junit-bom:5.10.2"))
    testImplementation("org.junit.jupiter:junit-jupiter")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher")
}

tasks.test {
    useJUnitPlatform()
}
