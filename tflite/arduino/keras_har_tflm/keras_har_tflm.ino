// Minimal TensorFlow Lite Micro sketch for a keras_har int8 model.
//
// Copy the files that `python tflite/export.py ... --output OUT` wrote into
// this folder: OUT/model_data.cc, model_data.h, model_settings.h, model_ops.h.
// They are generated from the .tflite; do not edit them by hand.
//
// The sketch checks the model's input/output shape and type against
// model_settings.h, then classifies one window: it standardises each sample
// with the training mean/std, quantizes it with the model's input scale and
// zero point, invokes, and prints the most likely activity. Replace
// ReadSample() with your IMU driver, sampling at kSamplingRateHz in
// kChannelNames order.

#include <TensorFlowLite.h>  // Arduino_TensorFlowLite / tflite-micro Arduino library

#include <math.h>

#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {
const tflite::Model* model = nullptr;
tflite::MicroInterpreter* interpreter = nullptr;
TfLiteTensor* input = nullptr;
TfLiteTensor* output = nullptr;
// The arena size was measured by keras_har.export.find_arena_bytes; keep the
// 16-byte alignment that TFLM expects.
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
int sample_index = 0;

// Placeholder sensor: replace with the IMU reading of channel `channel`.
float ReadSample(int channel) { return kChannelMean[channel]; }

int8_t Quantize(float value, int channel) {
  const float standardised = (value - kChannelMean[channel]) / kChannelStd[channel];
  const int q = static_cast<int>(lroundf(standardised / kInputScale)) + kInputZeroPoint;
  return static_cast<int8_t>(q < -128 ? -128 : (q > 127 ? 127 : q));
}

bool ShapesMatch() {
  return input->type == kTfLiteInt8 && output->type == kTfLiteInt8 && input->dims->size == 3 &&
         input->dims->data[1] == kWindowLength && input->dims->data[2] == kChannelCount &&
         output->dims->data[output->dims->size - 1] == kClassCount;
}
}  // namespace

void setup() {
  Serial.begin(115200);
  model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    MicroPrintf("Model schema %d, runtime expects %d", model->version(), TFLITE_SCHEMA_VERSION);
    return;
  }
  static ModelOpResolver resolver;
  if (RegisterModelOps(resolver) != kTfLiteOk) {
    MicroPrintf("Op registration failed");
    return;
  }
  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, kTensorArenaSize);
  interpreter = &static_interpreter;
  if (interpreter->AllocateTensors() != kTfLiteOk) {
    MicroPrintf("AllocateTensors() failed: kTensorArenaSize is too small for this build");
    return;
  }
  input = interpreter->input(0);
  output = interpreter->output(0);
  if (!ShapesMatch()) {
    MicroPrintf("Model input/output do not match model_settings.h: re-export both together");
    interpreter = nullptr;
    return;
  }
  MicroPrintf("Arena used: %d of %d bytes", static_cast<int>(interpreter->arena_used_bytes()), kTensorArenaSize);
}

void loop() {
  if (interpreter == nullptr) return;
  // Fill one window, time-major, at kSamplingRateHz.
  for (int channel = 0; channel < kChannelCount; ++channel) {
    input->data.int8[sample_index * kChannelCount + channel] = Quantize(ReadSample(channel), channel);
  }
  delay(static_cast<unsigned long>(1000.0f / kSamplingRateHz));
  if (++sample_index < kWindowLength) return;
  sample_index = 0;

  if (interpreter->Invoke() != kTfLiteOk) {
    MicroPrintf("Invoke failed");
    return;
  }
  int best = 0;
  for (int k = 1; k < kClassCount; ++k) {
    if (output->data.int8[k] > output->data.int8[best]) best = k;
  }
  const float logit = (output->data.int8[best] - kOutputZeroPoint) * kOutputScale;
  MicroPrintf("%s (logit %d/1000)", kLabelNames[best], static_cast<int>(logit * 1000));
}
