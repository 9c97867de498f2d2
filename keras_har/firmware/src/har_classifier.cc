#include "har_classifier.h"

#include <math.h>
#include <new>

#include "model_data.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace keras_har {

HarClassifier::~HarClassifier() {
  if (constructed_ != nullptr) constructed_->~MicroInterpreter();
}

SetupStatus HarClassifier::Setup(uint8_t* arena, size_t arena_bytes) {
  interpreter_ = nullptr;
  if (constructed_ != nullptr) {  // a second Setup (the arena search) rebuilds it
    constructed_->~MicroInterpreter();
    constructed_ = nullptr;
  }
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) return SetupStatus::kSchemaMismatch;
  if (RegisterModelOps(resolver_) != kTfLiteOk) return SetupStatus::kOpRegistration;
  // Placement new: the interpreter lives inside this object, no heap.
  tflite::MicroInterpreter* interpreter =
      new (interpreter_storage_) tflite::MicroInterpreter(model, resolver_, arena, arena_bytes);
  constructed_ = interpreter;
  if (interpreter->AllocateTensors() != kTfLiteOk) return SetupStatus::kAllocateTensors;
  const TfLiteTensor* input = interpreter->input(0);
  const TfLiteTensor* output = interpreter->output(0);
  const bool shapes_match =
      input->type == kTfLiteInt8 && output->type == kTfLiteInt8 && input->dims->size == 3 &&
      input->dims->data[0] == 1 && input->dims->data[1] == kWindowLength &&
      input->dims->data[2] == kChannelCount && output->dims->data[output->dims->size - 1] == kClassCount;
  if (!shapes_match) return SetupStatus::kShapeMismatch;
  interpreter_ = interpreter;
  ResetStream();
  return SetupStatus::kOk;
}

int8_t HarClassifier::QuantizeSample(float value, int channel) {
  const float standardised = (value - kChannelMean[channel]) / kChannelStd[channel];
  const long q = lroundf(standardised / kInputScale) + kInputZeroPoint;
  return static_cast<int8_t>(q < -128 ? -128 : (q > 127 ? 127 : q));
}

int8_t* HarClassifier::BeginWindow() {
  if (interpreter_ == nullptr) return nullptr;
#ifndef KERAS_HAR_TEST_SKIP_STATE_RESET  // only for the test that proves the reset matters
  // Recurrent kernels (the fused int8 LSTM) keep their state in variable
  // tensors: without this every window would start from the previous one's.
  if (interpreter_->Reset() != kTfLiteOk) return nullptr;
#endif
  return interpreter_->input(0)->data.int8;
}

int HarClassifier::InvokeAndArgMax(int8_t* scores) {
  if (interpreter_->Invoke() != kTfLiteOk) return kNoResult;
  const int8_t* output = interpreter_->output(0)->data.int8;
  int best = 0;
  for (int k = 0; k < kClassCount; ++k) {
    if (scores != nullptr) scores[k] = output[k];
    if (output[k] > output[best]) best = k;
  }
  return best;
}

int HarClassifier::ClassifyQuantized(const int8_t* window, int8_t* scores) {
  int8_t* input = BeginWindow();
  if (input == nullptr) return kNoResult;
  for (int i = 0; i < kWindowLength * kChannelCount; ++i) input[i] = window[i];
  return InvokeAndArgMax(scores);
}

int HarClassifier::ClassifyWindow(const float* window, int8_t* scores) {
  int8_t* input = BeginWindow();
  if (input == nullptr) return kNoResult;
  for (int t = 0; t < kWindowLength; ++t) {
    for (int c = 0; c < kChannelCount; ++c) {
      input[t * kChannelCount + c] = QuantizeSample(window[t * kChannelCount + c], c);
    }
  }
  return InvokeAndArgMax(scores);
}

void HarClassifier::ResetStream() {
  ring_start_ = 0;
  samples_seen_ = 0;
  since_last_result_ = 0;
}

int HarClassifier::PushSample(const float* sample, int8_t* scores) {
  if (interpreter_ == nullptr) return kNoResult;
  // Before the window is full, ring_start_ stays 0 and samples fill it in
  // order; after that each new sample overwrites the oldest.
  const int slot = samples_seen_ < kWindowLength ? samples_seen_ : ring_start_;
  for (int c = 0; c < kChannelCount; ++c) ring_[slot * kChannelCount + c] = QuantizeSample(sample[c], c);
  if (samples_seen_ < kWindowLength) {
    ++samples_seen_;
    if (samples_seen_ < kWindowLength) return kNoResult;
    since_last_result_ = 0;  // the first full window is classified at once
  } else {
    ring_start_ = (ring_start_ + 1) % kWindowLength;
    if (++since_last_result_ < kStepLength) return kNoResult;
    since_last_result_ = 0;
  }
  int8_t* input = BeginWindow();
  if (input == nullptr) return kNoResult;
  for (int t = 0; t < kWindowLength; ++t) {
    const int8_t* row = &ring_[((ring_start_ + t) % kWindowLength) * kChannelCount];
    for (int c = 0; c < kChannelCount; ++c) input[t * kChannelCount + c] = row[c];
  }
  return InvokeAndArgMax(scores);
}

size_t HarClassifier::ArenaUsedBytes() const {
  return interpreter_ == nullptr ? 0 : interpreter_->arena_used_bytes();
}

}  // namespace keras_har
