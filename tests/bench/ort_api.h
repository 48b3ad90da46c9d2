// The few entries of ONNX Runtime's C API the benchmark calls, declared here
// because the onnxruntime-node npm package ships the library without its
// header. OrtApi is a table of function pointers that ONNX Runtime only ever
// appends to (each entry's "\since" grows), so an entry's index is fixed for
// good: the indices below were counted in onnxruntime_c_api.h of ONNX Runtime
// 1.13 (ORT_API_VERSION 13, microsoft/onnxruntime commit 0017800f65), and
// GetApi(13) returns a table with that layout from any later library (1.30 was
// measured). Unused entries are void* fillers. Built only with
// RNNSERVE_BENCH_ORT_LIBRARY (tests/bench/CMakeLists.txt).
#ifndef RNNSERVE_TESTS_BENCH_ORT_API_H_
#define RNNSERVE_TESTS_BENCH_ORT_API_H_

#include <cstddef>
#include <cstdint>

extern "C" {

struct OrtEnv;
struct OrtStatus;
struct OrtMemoryInfo;
struct OrtSession;
struct OrtValue;
struct OrtRunOptions;
struct OrtSessionOptions;

// The values this file passes; numbers as in the 1.13 header.
inline constexpr int kOrtLoggingLevelWarning = 2;  // ORT_LOGGING_LEVEL_WARNING
inline constexpr int kOrtEnableAll = 99;           // ORT_ENABLE_ALL
inline constexpr int kOrtArenaAllocator = 1;       // OrtArenaAllocator
inline constexpr int kOrtMemTypeDefault = 0;       // OrtMemTypeDefault
inline constexpr int kOnnxTensorElementDataTypeFloat = 1;
inline constexpr uint32_t kOrtApiVersion = 13;

struct OrtApi {
  void* unused_0_1[2];                                      // 0 CreateStatus, 1 GetErrorCode
  const char* (*GetErrorMessage)(const OrtStatus* status);  // 2
  OrtStatus* (*CreateEnv)(int log_severity_level, const char* logid, OrtEnv** out);  // 3
  void* unused_4_6[3];  // 4 CreateEnvWithCustomLogger, 5-6 telemetry
  OrtStatus* (*CreateSession)(const OrtEnv* env, const char* model_path,
                              const OrtSessionOptions* options, OrtSession** out);  // 7
  void* unused_8[1];  // 8 CreateSessionFromArray
  OrtStatus* (*Run)(OrtSession* session, const OrtRunOptions* run_options,
                    const char* const* input_names, const OrtValue* const* inputs, size_t input_len,
                    const char* const* output_names, size_t output_names_len,
                    OrtValue** outputs);                            // 9
  OrtStatus* (*CreateSessionOptions)(OrtSessionOptions** options);  // 10
  void* unused_11_22[12];  // 11 SetOptimizedModelFilePath .. 22 SetSessionLogSeverityLevel
  OrtStatus* (*SetSessionGraphOptimizationLevel)(OrtSessionOptions* options,
                                                 int graph_optimization_level);  // 23
  OrtStatus* (*SetIntraOpNumThreads)(OrtSessionOptions* options, int threads);   // 24
  OrtStatus* (*SetInterOpNumThreads)(OrtSessionOptions* options, int threads);   // 25
  void* unused_26_48[23];  // 26 CreateCustomOpDomain .. 48 CreateTensorAsOrtValue
  OrtStatus* (*CreateTensorWithDataAsOrtValue)(const OrtMemoryInfo* info, void* p_data,
                                               size_t p_data_len, const int64_t* shape,
                                               size_t shape_len, int type,
                                               OrtValue** out);  // 49
  void* unused_50_68[19];  // 50 IsTensor .. 68 CreateMemoryInfo
  OrtStatus* (*CreateCpuMemoryInfo)(int type, int mem_type, OrtMemoryInfo** out);  // 69
  void* unused_70_91[22];                   // 70 CompareMemoryInfo .. 91 KernelContext_GetOutput
  void (*ReleaseEnv)(OrtEnv* input);        // 92
  void (*ReleaseStatus)(OrtStatus* input);  // 93
  void (*ReleaseMemoryInfo)(OrtMemoryInfo* input);  // 94
  void (*ReleaseSession)(OrtSession* input);        // 95
  void (*ReleaseValue)(OrtValue* input);            // 96
  void* unused_97_99[3];  // 97 ReleaseRunOptions .. 99 ReleaseTensorTypeAndShapeInfo
  void (*ReleaseSessionOptions)(OrtSessionOptions* input);  // 100
};

struct OrtApiBase {
  const OrtApi* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)();
};

// The library's one exported entry point.
const OrtApiBase* OrtGetApiBase();

}  // extern "C"

// The layout the comments above promise, checked at compile time.
static_assert(offsetof(OrtApi, GetErrorMessage) == 2 * sizeof(void*));
static_assert(offsetof(OrtApi, CreateSession) == 7 * sizeof(void*));
static_assert(offsetof(OrtApi, Run) == 9 * sizeof(void*));
static_assert(offsetof(OrtApi, SetSessionGraphOptimizationLevel) == 23 * sizeof(void*));
static_assert(offsetof(OrtApi, CreateTensorWithDataAsOrtValue) == 49 * sizeof(void*));
static_assert(offsetof(OrtApi, CreateCpuMemoryInfo) == 69 * sizeof(void*));
static_assert(offsetof(OrtApi, ReleaseEnv) == 92 * sizeof(void*));
static_assert(offsetof(OrtApi, ReleaseSessionOptions) == 100 * sizeof(void*));

#endif  // RNNSERVE_TESTS_BENCH_ORT_API_H_
