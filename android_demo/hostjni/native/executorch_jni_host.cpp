// Host-only JNI backing for the test double of ExecuTorch's Java API (hostjni/java): the
// executorch wheel's C++ extension::Module behind org.pytorch.executorch.Module's natives.
// Test code: never packaged into the APK (the AAR ships the real libexecutorch.so).
#include <jni.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>

// The wheel ships libexecutorch_threadpool.so but not threadpool.h: declare the two entry points
// used (non-virtual members, so no layout is needed) to honour Module.load's numThreads.
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  bool _unsafe_reset_threadpool(uint32_t num_threads);
  size_t get_thread_count() const;
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

namespace {

using executorch::extension::Module;
using executorch::extension::TensorPtr;
using executorch::runtime::Error;
using executorch::runtime::EValue;

void throw_java(JNIEnv* env, const std::string& message) {
  jclass type = env->FindClass("java/lang/RuntimeException");
  env->ThrowNew(type, message.c_str());
}

std::string to_string(JNIEnv* env, jstring text) {
  const char* chars = env->GetStringUTFChars(text, nullptr);
  std::string value(chars);
  env->ReleaseStringUTFChars(text, chars);
  return value;
}

jobject box(JNIEnv* env, const char* type, const char* signature, jvalue value) {
  jclass boxed = env->FindClass(type);
  jmethodID value_of = env->GetStaticMethodID(boxed, "valueOf", signature);
  return env->CallStaticObjectMethodA(boxed, value_of, &value);
}

// One output as what Module.java unpacks: {float[] data, long[] shape} for a tensor, else a box.
jobject to_java(JNIEnv* env, const EValue& value, std::string& error) {
  jvalue v;
  if (value.isTensor()) {
    const auto& tensor = value.toTensor();
    if (tensor.scalar_type() != executorch::aten::ScalarType::Float) {
      error = "output tensor is not float32 (the host double reads float32 only)";
      return nullptr;
    }
    jfloatArray data = env->NewFloatArray(static_cast<jsize>(tensor.numel()));
    env->SetFloatArrayRegion(data, 0, static_cast<jsize>(tensor.numel()), tensor.const_data_ptr<float>());
    std::vector<jlong> sizes(tensor.sizes().begin(), tensor.sizes().end());
    jlongArray shape = env->NewLongArray(static_cast<jsize>(sizes.size()));
    env->SetLongArrayRegion(shape, 0, static_cast<jsize>(sizes.size()), sizes.data());
    jobjectArray pair = env->NewObjectArray(2, env->FindClass("java/lang/Object"), nullptr);
    env->SetObjectArrayElement(pair, 0, data);
    env->SetObjectArrayElement(pair, 1, shape);
    return pair;
  }
  if (value.isInt()) {
    v.j = value.toInt();
    return box(env, "java/lang/Long", "(J)Ljava/lang/Long;", v);
  }
  if (value.isDouble()) {
    v.d = value.toDouble();
    return box(env, "java/lang/Double", "(D)Ljava/lang/Double;", v);
  }
  if (value.isBool()) {
    v.z = value.toBool() ? JNI_TRUE : JNI_FALSE;
    return box(env, "java/lang/Boolean", "(Z)Ljava/lang/Boolean;", v);
  }
  if (value.isString()) {
    auto text = value.toString();
    return env->NewStringUTF(std::string(text.data(), text.size()).c_str());
  }
  error = "output of a type the host double does not read (tag " + std::to_string(static_cast<int>(value.tag)) + ")";
  return nullptr;
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_pytorch_executorch_Module_nativeLoad(JNIEnv* env, jclass, jstring path,
                                                                      jint load_mode, jint num_threads) {
  auto* pool = executorch::extension::threadpool::get_threadpool();
  if (num_threads > 0 && pool->get_thread_count() != static_cast<size_t>(num_threads)) {
    // Unsafe: programs already loaded keep the old pool (see Module.java).
    pool->_unsafe_reset_threadpool(
        static_cast<uint32_t>(num_threads));
  }
  auto mode = load_mode == 1 ? Module::LoadMode::Mmap : Module::LoadMode::File;
  auto module = std::make_unique<Module>(to_string(env, path), mode);
  Error error = module->load();
  if (error != Error::Ok) {
    throw_java(env, "cannot load program " + to_string(env, path) + " (error " +
                        std::to_string(static_cast<int>(error)) + ")");
    return 0;
  }
  return reinterpret_cast<jlong>(module.release());
}

JNIEXPORT void JNICALL Java_org_pytorch_executorch_Module_nativeLoadMethod(JNIEnv* env, jclass, jlong handle,
                                                                           jstring method) {
  Error error = reinterpret_cast<Module*>(handle)->load_method(to_string(env, method));
  if (error != Error::Ok) {
    throw_java(env, "cannot load method " + to_string(env, method) + " (error " +
                        std::to_string(static_cast<int>(error)) + ")");
  }
}

JNIEXPORT jobjectArray JNICALL Java_org_pytorch_executorch_Module_nativeExecute(JNIEnv* env, jclass, jlong handle,
                                                                                jstring method, jobjectArray datas,
                                                                                jobjectArray shapes) {
  auto* module = reinterpret_cast<Module*>(handle);
  std::string name = to_string(env, method);
  jsize count = env->GetArrayLength(datas);
  // Copies of the inputs: the tensors point into them while the method runs.
  std::vector<std::vector<float>> buffers(count);
  std::vector<TensorPtr> tensors;
  std::vector<EValue> inputs;
  for (jsize i = 0; i < count; i++) {
    auto data = static_cast<jfloatArray>(env->GetObjectArrayElement(datas, i));
    auto shape = static_cast<jlongArray>(env->GetObjectArrayElement(shapes, i));
    buffers[i].resize(env->GetArrayLength(data));
    env->GetFloatArrayRegion(data, 0, env->GetArrayLength(data), buffers[i].data());
    std::vector<jlong> dims(env->GetArrayLength(shape));
    env->GetLongArrayRegion(shape, 0, static_cast<jsize>(dims.size()), dims.data());
    std::vector<executorch::aten::SizesType> sizes(dims.begin(), dims.end());
    tensors.push_back(executorch::extension::from_blob(buffers[i].data(), sizes));
    env->DeleteLocalRef(data);
    env->DeleteLocalRef(shape);
  }
  for (auto& tensor : tensors) {
    inputs.emplace_back(tensor);
  }
  auto result = module->execute(name, inputs);
  if (!result.ok()) {
    throw_java(env, "method " + name + " failed (error " + std::to_string(static_cast<int>(result.error())) + ")");
    return nullptr;
  }
  const auto& outputs = result.get();
  jobjectArray java = env->NewObjectArray(static_cast<jsize>(outputs.size()), env->FindClass("java/lang/Object"),
                                          nullptr);
  for (size_t i = 0; i < outputs.size(); i++) {
    std::string error;
    jobject value = to_java(env, outputs[i], error);
    if (value == nullptr) {
      throw_java(env, "method " + name + ", output " + std::to_string(i) + ": " + error);
      return nullptr;
    }
    env->SetObjectArrayElement(java, static_cast<jsize>(i), value);
    env->DeleteLocalRef(value);
  }
  return java;
}

JNIEXPORT void JNICALL Java_org_pytorch_executorch_Module_nativeDestroy(JNIEnv*, jclass, jlong handle) {
  delete reinterpret_cast<Module*>(handle);
}

}  // extern "C"
