// The 32-bit storage word: a sample value and its flags packed together.
//
// Layout (bit 0 = least significant):
//   31     sign (1 = negative)
//   30     mode (1 = multiply the mantissa by factor^m, 0 = divide it by 10^m)
//   29..27 exponent m (0..7)
//   26     factor 100 instead of 10 (multiply mode only)
//   25     reset flag (a counter went backwards in this collection)
//   24     anomaly bit, inverted: 1 = normal, 0 = anomalous
//   23..0  mantissa (0..16,777,215)
//
// `pack_reference` and `unpack_reference` compute in x87 80-bit `long double`
// and are the oracle; `pack_word` is a double-precision fast path that falls
// back to the reference whenever the two could disagree, so its results are
// identical.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pyml {

using storage_word = std::uint32_t;

inline constexpr storage_word kAnomalyBit = 0x01000000u;    // set = normal
inline constexpr storage_word kResetFlag = 0x02000000u;
inline constexpr storage_word kFactor100 = 0x04000000u;
inline constexpr storage_word kEmptySlot = 0x00000000u;
inline constexpr storage_word kAnomalousZero = 0x04000000u;
inline constexpr storage_word kFlagsMask = 0x07000000u;
inline constexpr storage_word kMantissaMask = 0x00FFFFFFu;

// The flags a caller passes for a sample: bit 24 unless anomalous, bit 25 on reset.
constexpr storage_word sample_flags(bool anomalous, bool reset) noexcept {
    return (anomalous ? 0u : kAnomalyBit) | (reset ? kResetFlag : 0u);
}

// Reference pack: the exact algorithm, 80-bit arithmetic, `flags & 0x07000000`
// kept. NaN packs like zero (flags only), as the reference does on x86-64.
storage_word pack_reference(double value, storage_word flags) noexcept;

// Fast pack with results identical to `pack_reference` for every input.
storage_word pack_word(double value, storage_word flags) noexcept;

// pyml's pack of one sample: NaN is the empty slot 0; otherwise `pack_word`.
storage_word pack_sample(double value, bool anomalous, bool reset) noexcept;

// Reference unpack in 80-bit arithmetic, converted to double. Word 0 gives 0.
double unpack_reference(storage_word word) noexcept;

// Fast unpack with results identical to `unpack_reference`. Word 0 gives 0.
double unpack_word(storage_word word) noexcept;

// The double-precision unpack that training uses (same steps in double).
double unpack_double(storage_word word) noexcept;

constexpr bool word_exists(storage_word word) noexcept { return word != kEmptySlot; }
constexpr bool word_anomalous(storage_word word) noexcept {
    return word != kEmptySlot && (word & kAnomalyBit) == 0;
}
constexpr bool word_reset(storage_word word) noexcept { return (word & kResetFlag) != 0; }

// Batch pack. `anomalous` and `reset` are read with a stride of 0 (one value
// broadcast to all) or 1 (one per value).
void pack_samples(const double* values, std::size_t n, const std::uint8_t* anomalous,
                  std::size_t anomalous_stride, const std::uint8_t* reset,
                  std::size_t reset_stride, storage_word* out) noexcept;

// Batch pack of samples whose flags are already made by `sample_flags` (bits
// 24 and 25; other bits are ignored): the words of `pack_sample`, NaN giving
// the empty word. No data-dependent branch except for the rare values that
// need pack_word's own decisions (near its thresholds or a rounding tie).
void pack_flagged(const double* values, const storage_word* flags, std::size_t n, storage_word* out) noexcept;

// Batch unpack: value (NaN for the empty slot), anomalous flag, exists flag.
void unpack_samples(const storage_word* words, std::size_t n, double* values,
                    std::uint8_t* anomalous, std::uint8_t* exists) noexcept;

// Batch double-precision unpack; the empty slot gives NaN.
void unpack_samples_double(const storage_word* words, std::size_t n, double* values) noexcept;

}  // namespace pyml
