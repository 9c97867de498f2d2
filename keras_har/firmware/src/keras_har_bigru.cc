// KERAS_HAR_BIGRU kernel; see keras_har_bigru.h for the tensors and
// keras_har/export/fused_gru.py for the arithmetic, which this mirrors line
// by line.

#include "keras_har_bigru.h"

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define KERAS_HAR_BIGRU_DSP 1
#endif

#include "tensorflow/lite/kernels/internal/reference/integer_ops/logistic.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/tanh.h"
#include "tensorflow/lite/kernels/internal/runtime_shape.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace keras_har {
namespace {

constexpr int kFormatVersion = 1;
constexpr int kConfigSize = 8;

enum Input { kSequence = 0, kWeightsX, kWeightsH, kQuant, kConfig, kInputCount };

struct OpData {
  int directions;
  int units;
  int input_dim;
  int steps;
  int32_t output_multiplier;
  int32_t output_shift;
  int32_t output_zero_point;
  int scratch_index;  // gate accumulators (int32, 2 x 3N), h (int16, N), gates (int16, 3N)
};

// round(value * multiplier * 2^(shift - 31)), halves up: fused_gru.requantize.
inline int64_t Requantize(int64_t value, int32_t multiplier, int32_t shift) {
  const int total = 31 - shift;
  return (value * multiplier + (static_cast<int64_t>(1) << (total - 1))) >> total;
}

inline int32_t Saturate32(int64_t value) {
  return value < INT32_MIN ? INT32_MIN : (value > INT32_MAX ? INT32_MAX : static_cast<int32_t>(value));
}

inline int32_t Saturate16(int64_t value) {
  return value < -32768 ? -32768 : (value > 32767 ? 32767 : static_cast<int32_t>(value));
}

// TFLM's int16 gate non-linearities over `count` values in place, Q3.12 in
// and Q0.15 out, called as its int8 LSTM kernel calls them (lstm_eval.cc:
// Sigmoid and Tanh with a power-of-two input scale).
inline void Sigmoid(int16_t* values, int count) {
  tflite::reference_integer_ops::Logistic(0, 0, count, values, values);
}

inline void Tanh(int16_t* values, int count) {
  const int32_t dims[1] = {count};
  const tflite::RuntimeShape shape(1, dims);
  tflite::reference_integer_ops::Tanh(0, 0, shape, values, shape, values);
}

// Integer dot products; exact, so the Cortex-M DSP path (SMLAD on two 16-bit
// pairs at a time, as CMSIS-NN does) and the portable one give the same sums.
inline int32_t DotS8(const int8_t* a, const int8_t* b, int n, int32_t acc) {
  int i = 0;
#ifdef KERAS_HAR_BIGRU_DSP
  for (; i + 4 <= n; i += 4) {
    uint32_t wa, wb;
    memcpy(&wa, a + i, 4);
    memcpy(&wb, b + i, 4);
    // (a0, a2) . (b0, b2) + (a1, a3) . (b1, b3)
    acc = __smlad(__sxtb16(static_cast<int32_t>(wa)), __sxtb16(static_cast<int32_t>(wb)), acc);
    acc = __smlad(__sxtb16(static_cast<int32_t>((wa >> 8) | (wa << 24))),
                  __sxtb16(static_cast<int32_t>((wb >> 8) | (wb << 24))), acc);
  }
#endif
  for (; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

inline int32_t DotS8S16(const int8_t* w, const int16_t* h, int n, int32_t acc) {
  int i = 0;
#ifdef KERAS_HAR_BIGRU_DSP
  for (; i + 4 <= n; i += 4) {
    uint32_t ww, h01, h23;
    memcpy(&ww, w + i, 4);
    memcpy(&h01, h + i, 4);
    memcpy(&h23, h + i + 2, 4);
    const uint32_t h02 = (h01 & 0xFFFFu) | (h23 << 16);
    const uint32_t h13 = (h01 >> 16) | (h23 & 0xFFFF0000u);
    acc = __smlad(__sxtb16(static_cast<int32_t>(ww)), static_cast<int32_t>(h02), acc);
    acc = __smlad(__sxtb16(static_cast<int32_t>((ww >> 8) | (ww << 24))), static_cast<int32_t>(h13), acc);
  }
#endif
  for (; i < n; ++i) acc += w[i] * h[i];
  return acc;
}

void* Init(TfLiteContext* context, const char*, size_t) {
  return context->AllocatePersistentBuffer(context, sizeof(OpData));
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  TF_LITE_ENSURE_EQ(context, tflite::NumInputs(node), kInputCount);
  TF_LITE_ENSURE(context, tflite::NumOutputs(node) == 1 || tflite::NumOutputs(node) == 2);
  tflite::MicroContext* micro_context = tflite::GetMicroContext(context);
  OpData* data = static_cast<OpData*>(node->user_data);

  TfLiteTensor* config = micro_context->AllocateTempInputTensor(node, kConfig);
  TF_LITE_ENSURE(context, config != nullptr);
  TF_LITE_ENSURE_TYPES_EQ(context, config->type, kTfLiteInt32);
  TF_LITE_ENSURE_EQ(context, tflite::NumElements(config), kConfigSize);
  const int32_t* values = tflite::GetTensorData<int32_t>(config);
  if (values[0] != kFormatVersion) {
    MicroPrintf("KERAS_HAR_BIGRU: parameters of format %d, this kernel reads %d", values[0], kFormatVersion);
    micro_context->DeallocateTempTfLiteTensor(config);
    return kTfLiteError;
  }
  data->directions = values[1];
  data->units = values[2];
  data->input_dim = values[3];
  data->steps = values[4];
  data->output_multiplier = values[5];
  data->output_shift = values[6];
  data->output_zero_point = values[7];
  micro_context->DeallocateTempTfLiteTensor(config);
  TF_LITE_ENSURE(context, data->directions == 1 || data->directions == 2);

  const int gates = 3 * data->units;
  TfLiteTensor* sequence = micro_context->AllocateTempInputTensor(node, kSequence);
  TfLiteTensor* weights_x = micro_context->AllocateTempInputTensor(node, kWeightsX);
  TfLiteTensor* weights_h = micro_context->AllocateTempInputTensor(node, kWeightsH);
  TfLiteTensor* quant = micro_context->AllocateTempInputTensor(node, kQuant);
  TfLiteTensor* output = micro_context->AllocateTempOutputTensor(node, 0);
  TF_LITE_ENSURE(context, sequence != nullptr && weights_x != nullptr && weights_h != nullptr &&
                              quant != nullptr && output != nullptr);
  TF_LITE_ENSURE_TYPES_EQ(context, sequence->type, kTfLiteInt8);
  TF_LITE_ENSURE_TYPES_EQ(context, weights_x->type, kTfLiteInt8);
  TF_LITE_ENSURE_TYPES_EQ(context, weights_h->type, kTfLiteInt8);
  TF_LITE_ENSURE_TYPES_EQ(context, quant->type, kTfLiteInt32);
  TF_LITE_ENSURE_TYPES_EQ(context, output->type, kTfLiteInt8);
  TF_LITE_ENSURE_EQ(context, tflite::NumElements(sequence), data->steps * data->input_dim);
  TF_LITE_ENSURE_EQ(context, tflite::NumElements(weights_x), data->directions * gates * data->input_dim);
  TF_LITE_ENSURE_EQ(context, tflite::NumElements(weights_h), data->directions * gates * data->units);
  TF_LITE_ENSURE_EQ(context, tflite::NumElements(quant), data->directions * 2 * gates * 3);
  TF_LITE_ENSURE_EQ(context, tflite::NumElements(output), data->steps * data->directions * data->units);
  if (tflite::NumOutputs(node) == 2) {
    TfLiteTensor* transposed = micro_context->AllocateTempOutputTensor(node, 1);
    TF_LITE_ENSURE(context, transposed != nullptr);
    TF_LITE_ENSURE_TYPES_EQ(context, transposed->type, kTfLiteInt8);
    TF_LITE_ENSURE_EQ(context, tflite::NumElements(transposed), tflite::NumElements(output));
    micro_context->DeallocateTempTfLiteTensor(transposed);
  }
  micro_context->DeallocateTempTfLiteTensor(sequence);
  micro_context->DeallocateTempTfLiteTensor(weights_x);
  micro_context->DeallocateTempTfLiteTensor(weights_h);
  micro_context->DeallocateTempTfLiteTensor(quant);
  micro_context->DeallocateTempTfLiteTensor(output);

  const size_t scratch = 2 * gates * sizeof(int32_t) + (data->units + gates) * sizeof(int16_t);
  return context->RequestScratchBufferInArena(context, scratch, &data->scratch_index);
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const OpData& data = *static_cast<const OpData*>(node->user_data);
  const int8_t* sequence = tflite::micro::GetTensorData<int8_t>(tflite::micro::GetEvalInput(context, node, kSequence));
  const int8_t* all_weights_x =
      tflite::micro::GetTensorData<int8_t>(tflite::micro::GetEvalInput(context, node, kWeightsX));
  const int8_t* all_weights_h =
      tflite::micro::GetTensorData<int8_t>(tflite::micro::GetEvalInput(context, node, kWeightsH));
  const int32_t* all_quant = tflite::micro::GetTensorData<int32_t>(tflite::micro::GetEvalInput(context, node, kQuant));
  int8_t* output = tflite::micro::GetTensorData<int8_t>(tflite::micro::GetEvalOutput(context, node, 0));
  // Optional second output: the sequence transposed, (dirs * N, T), for attention's BATCH_MATMUL.
  int8_t* transposed = node->outputs->size == 2
                           ? tflite::micro::GetTensorData<int8_t>(tflite::micro::GetEvalOutput(context, node, 1))
                           : nullptr;

  const int units = data.units, gate_count = 3 * units, input_dim = data.input_dim, width = data.directions * units;
  // Accumulators first: the scratch buffer is aligned for int32.
  int32_t* gate_x = static_cast<int32_t*>(context->GetScratchBuffer(context, data.scratch_index));
  int32_t* gate_h = gate_x + gate_count;
  int16_t* h = reinterpret_cast<int16_t*>(gate_h + gate_count);
  int16_t* gates = h + units;  // z, r, then n: pre-activations, then activations in place

  for (int d = 0; d < data.directions; ++d) {
    const int8_t* weights_x = all_weights_x + d * gate_count * input_dim;
    const int8_t* weights_h = all_weights_h + d * gate_count * units;
    const int32_t* quant_x = all_quant + d * 2 * gate_count * 3;  // (3N, 3): bias, multiplier, shift
    const int32_t* quant_h = quant_x + gate_count * 3;
    for (int k = 0; k < units; ++k) h[k] = 0;
    for (int step = 0; step < data.steps; ++step) {
      const int t = d == 0 ? step : data.steps - 1 - step;
      const int8_t* x = sequence + t * input_dim;
      for (int j = 0; j < gate_count; ++j) {
        const int32_t acc_x = DotS8(weights_x + j * input_dim, x, input_dim, quant_x[3 * j]);
        const int32_t acc_h = DotS8S16(weights_h + j * units, h, units, quant_h[3 * j]);
        gate_x[j] = Saturate32(Requantize(acc_x, quant_x[3 * j + 1], quant_x[3 * j + 2]));
        gate_h[j] = Saturate32(Requantize(acc_h, quant_h[3 * j + 1], quant_h[3 * j + 2]));
      }
      // z and r: both sigmoids at once.
      for (int j = 0; j < 2 * units; ++j) {
        gates[j] = static_cast<int16_t>(Saturate16(static_cast<int64_t>(gate_x[j]) + gate_h[j]));
      }
      Sigmoid(gates, 2 * units);
      int16_t* n = gates + 2 * units;
      for (int k = 0; k < units; ++k) {
        const int32_t r = gates[units + k];
        const int32_t hidden_n = Saturate16(gate_h[2 * units + k]);
        n[k] = static_cast<int16_t>(
            Saturate16(static_cast<int64_t>(gate_x[2 * units + k]) + ((r * hidden_n + (1 << 14)) >> 15)));
      }
      Tanh(n, units);
      for (int k = 0; k < units; ++k) {
        const int32_t z = gates[k];
        const int32_t mixed = (z * h[k] + ((1 << 15) - z) * n[k] + (1 << 14)) >> 15;
        h[k] = static_cast<int16_t>(Saturate16(mixed));
      }
      int8_t* out = output + t * width + d * units;
      for (int k = 0; k < units; ++k) {
        int64_t value = data.output_zero_point + Requantize(h[k], data.output_multiplier, data.output_shift);
        out[k] = static_cast<int8_t>(value < -128 ? -128 : (value > 127 ? 127 : value));
        if (transposed != nullptr) transposed[(d * units + k) * data.steps + t] = out[k];
      }
    }
  }
  return kTfLiteOk;
}

}  // namespace

TFLMRegistration* Register_KERAS_HAR_BIGRU() {
  static TFLMRegistration registration = tflite::micro::RegisterOp(Init, Prepare, Eval);
  return &registration;
}

}  // namespace keras_har
