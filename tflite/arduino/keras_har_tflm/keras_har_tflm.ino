// TensorFlow Lite Micro sketch for a keras_har int8 model: thin glue around
// the portable core (har_classifier.h/.cc), which keras-har firmware builds
// and runs bit for bit against Python on the host and on an emulated
// Cortex-M4. Only the IMU read and the serial output live here.
//
// Copy everything that `python tflite/export.py ... --output OUT` wrote for
// the firmware into this folder: model_data.cc, model_data.h,
// model_settings.h, model_ops.h, har_classifier.h and har_classifier.cc.
// They are generated with the model; do not edit them by hand.
//
// Every kSamplingRateHz-th of a second the sketch reads one sample of
// kChannelCount values (kChannelNames order, the units the model was trained
// on) and pushes it into the core's ring buffer. Every kStepLength samples,
// once kWindowLength samples have arrived, the core standardises and
// quantises the last window, resets the model's state and classifies it.
// Replace ReadSample() with your IMU driver.

#include <TensorFlowLite.h>  // Arduino_TensorFlowLite / tflite-micro Arduino library

#include "har_classifier.h"
#include "model_settings.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace {
// kTensorArenaSize was measured on an emulated Cortex-M4 by keras-har firmware
// (or, before that ran, by the 64-bit Python interpreter, which over-allocates).
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
keras_har::HarClassifier classifier;
bool ready = false;
unsigned long next_sample_ms = 0;

// Placeholder sensor: replace with your IMU reading of all kChannelCount channels.
void ReadSample(float* sample) {
  for (int channel = 0; channel < kChannelCount; ++channel) sample[channel] = kChannelMean[channel];
}
}  // namespace

void setup() {
  Serial.begin(115200);
  const keras_har::SetupStatus status = classifier.Setup(tensor_arena, kTensorArenaSize);
  if (status != keras_har::SetupStatus::kOk) {
    // 3: the arena is too small for this board's build; 4: model and model_settings.h disagree.
    MicroPrintf("keras_har set-up failed with status %d", static_cast<int>(status));
    return;
  }
  MicroPrintf("Arena used: %d of %d bytes", static_cast<int>(classifier.ArenaUsedBytes()), kTensorArenaSize);
  ready = true;
  next_sample_ms = millis();
}

void loop() {
  if (!ready || static_cast<long>(millis() - next_sample_ms) < 0) return;
  next_sample_ms += static_cast<unsigned long>(1000.0f / kSamplingRateHz);
  float sample[kChannelCount];
  ReadSample(sample);
  int8_t scores[kClassCount];
  const int label = classifier.PushSample(sample, scores);
  if (label == keras_har::kNoResult) return;
  const float logit = (scores[label] - kOutputZeroPoint) * kOutputScale;
  MicroPrintf("%s (logit %d/1000)", kLabelNames[label], static_cast<int>(logit * 1000));
}
