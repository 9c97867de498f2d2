// KERAS_HAR_BIGRU: TinierHAR's (bidirectional) GRU over a whole int8 sequence
// as one TFLM custom op, written by keras_har.export (recurrence "fused").
//
// Inputs: 0 the int8 sequence (T, D); 1 int8 input weights (dirs, 3N, D);
// 2 int8 recurrent weights (dirs, 3N, N); 3 int32 (dirs, 2, 3N, 3): bias,
// multiplier and shift of the input and the recurrent products per gate
// channel; 4 int32 config: format version, dirs, N, D, T, and the output's
// multiplier, shift and zero point. Output 0: int8 (T, dirs * N), forward
// units first, the backward direction aligned with input time; optional
// output 1: the same values transposed, (dirs * N, T), which attention
// pooling's BATCH_MATMUL reads without a persistent transposed copy.
//
// The arithmetic is keras_har.export.fused_gru.gru_int8_reference's, bit for
// bit; gate non-linearities are TFLM's int16 Logistic and Tanh, as in its
// int8 LSTM kernel. Register it with
//   resolver.AddCustom(keras_har::kBiGruOpName, keras_har::Register_KERAS_HAR_BIGRU());

#ifndef KERAS_HAR_BIGRU_H_
#define KERAS_HAR_BIGRU_H_

#include "tensorflow/lite/micro/micro_common.h"

namespace keras_har {

constexpr const char* kBiGruOpName = "KERAS_HAR_BIGRU";

TFLMRegistration* Register_KERAS_HAR_BIGRU();

}  // namespace keras_har

#endif  // KERAS_HAR_BIGRU_H_
