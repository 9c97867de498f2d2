// Test runner for a keras_har firmware: the HarClassifier core driven by
// files, on the host or on an emulated Cortex-M4 (QEMU, semihosting).
// Built and run by keras_har.firmware; not part of what is flashed.
//
//   runner windows IN ARENA_BYTES   IN: N windows of int8, kWindowLength x kChannelCount
//   runner stream IN ARENA_BYTES    IN: L samples of float32, kChannelCount each
//   runner arena                    smallest arena that allocates and runs
//
// Output lines (stdout):
//   SETUP <status> <arena_used_bytes> <arena_bytes>
//   W <index> <class> <score_0> ... <score_K-1> <ticks>
//   S <sample_index> <class> <score_0> ... <score_K-1> <ticks>
//   ARENA <arena_used_bytes> <smallest_arena_bytes>
//   DONE <count>
// <ticks> count SysTick ticks around each classification on a Cortex-M
// (0 on the host); keras_har.firmware turns them into instructions.

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <new>

#include "har_classifier.h"
#include "model_settings.h"

#ifndef KERAS_HAR_RUNNER_ARENA_BYTES
#define KERAS_HAR_RUNNER_ARENA_BYTES (1024 * 1024)
#endif

namespace {

alignas(16) uint8_t g_arena[KERAS_HAR_RUNNER_ARENA_BYTES];

#if defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_7M__)
volatile uint32_t* const kSysTickControl = reinterpret_cast<volatile uint32_t*>(0xE000E010);
volatile uint32_t* const kSysTickReload = reinterpret_cast<volatile uint32_t*>(0xE000E014);
volatile uint32_t* const kSysTickCurrent = reinterpret_cast<volatile uint32_t*>(0xE000E018);
void StartTicks() {
  *kSysTickReload = 0xFFFFFF;
  *kSysTickCurrent = 0;
  *kSysTickControl = 5;  // enabled, processor clock, no interrupt
}
uint32_t Ticks() { return *kSysTickCurrent; }
// SysTick counts down and wraps at 24 bits.
uint32_t Elapsed(uint32_t start, uint32_t end) { return (start - end) & 0xFFFFFF; }
#else
void StartTicks() {}
uint32_t Ticks() { return 0; }
uint32_t Elapsed(uint32_t, uint32_t) { return 0; }
#endif

// One HarClassifier at a time, rebuilt in place for each arena tried.
alignas(keras_har::HarClassifier) uint8_t g_classifier_storage[sizeof(keras_har::HarClassifier)];
keras_har::HarClassifier* g_classifier = nullptr;

keras_har::SetupStatus SetupWith(size_t arena_bytes) {
  if (g_classifier != nullptr) g_classifier->~HarClassifier();
  g_classifier = new (g_classifier_storage) keras_har::HarClassifier();
  return g_classifier->Setup(g_arena, arena_bytes);
}

void PrintScores(const int8_t* scores) {
  for (int k = 0; k < kClassCount; ++k) printf(" %d", scores[k]);
}

int RunWindows(FILE* in) {
  static int8_t window[kWindowLength * kChannelCount];
  int8_t scores[kClassCount];
  int count = 0;
  while (fread(window, 1, sizeof(window), in) == sizeof(window)) {
    const uint32_t start = Ticks();
    const int label = g_classifier->ClassifyQuantized(window, scores);
    const uint32_t ticks = Elapsed(start, Ticks());
    if (label == keras_har::kNoResult) {
      printf("ERROR invoke failed at window %d\n", count);
      return 4;
    }
    printf("W %d %d", count, label);
    PrintScores(scores);
    printf(" %lu\n", static_cast<unsigned long>(ticks));
    ++count;
  }
  printf("DONE %d\n", count);
  return 0;
}

int RunStream(FILE* in) {
  float sample[kChannelCount];
  int8_t scores[kClassCount];
  int index = 0;
  int results = 0;
  while (fread(sample, sizeof(float), kChannelCount, in) == static_cast<size_t>(kChannelCount)) {
    const uint32_t start = Ticks();
    const int label = g_classifier->PushSample(sample, scores);
    const uint32_t ticks = Elapsed(start, Ticks());
    if (label != keras_har::kNoResult) {
      printf("S %d %d", index, label);
      PrintScores(scores);
      printf(" %lu\n", static_cast<unsigned long>(ticks));
      ++results;
    }
    ++index;
  }
  printf("DONE %d\n", results);
  return 0;
}

// The smallest arena (a multiple of 16 bytes) in which the model allocates
// and classifies a window: binary search between what one allocation in the
// full arena used and the full arena.
int FindArena() {
  if (SetupWith(sizeof(g_arena)) != keras_har::SetupStatus::kOk) {
    printf("ERROR AllocateTensors failed even with %lu bytes\n", static_cast<unsigned long>(sizeof(g_arena)));
    return 3;
  }
  const size_t used = g_classifier->ArenaUsedBytes();
  static int8_t window[kWindowLength * kChannelCount];
  size_t low = 0, high = sizeof(g_arena);  // low fails (or is untested), high works
  // low and high stay multiples of 16, so with high - low >= 32 the middle lies strictly between them.
  while (high - low > 16) {
    const size_t middle = ((low + high) / 2) & ~static_cast<size_t>(15);
    const bool works = SetupWith(middle) == keras_har::SetupStatus::kOk &&
                       g_classifier->ClassifyQuantized(window, nullptr) != keras_har::kNoResult;
    if (works) high = middle; else low = middle;
  }
  printf("ARENA %lu %lu\n", static_cast<unsigned long>(used), static_cast<unsigned long>(high));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  StartTicks();
  if (argc < 2) {
    printf("ERROR usage: runner windows|stream IN ARENA_BYTES | runner arena\n");
    return 2;
  }
  if (strcmp(argv[1], "arena") == 0) return FindArena();
  if (argc < 4) {
    printf("ERROR usage: runner %s IN ARENA_BYTES\n", argv[1]);
    return 2;
  }
  const size_t arena_bytes = static_cast<size_t>(strtoul(argv[3], nullptr, 10));
  if (arena_bytes == 0 || arena_bytes > sizeof(g_arena)) {
    printf("ERROR arena of %s bytes: the runner has %lu\n", argv[3], static_cast<unsigned long>(sizeof(g_arena)));
    return 2;
  }
  const keras_har::SetupStatus status = SetupWith(arena_bytes);
  printf("SETUP %d %lu %lu\n", static_cast<int>(status), static_cast<unsigned long>(g_classifier->ArenaUsedBytes()),
         static_cast<unsigned long>(arena_bytes));
  if (status != keras_har::SetupStatus::kOk) return 3;
  FILE* in = fopen(argv[2], "rb");
  if (in == nullptr) {
    printf("ERROR cannot open %s\n", argv[2]);
    return 2;
  }
  const int rc = strcmp(argv[1], "windows") == 0 ? RunWindows(in) : strcmp(argv[1], "stream") == 0 ? RunStream(in) : 2;
  fclose(in);
  return rc;
}
