#include "storage_number.hpp"

#include <cmath>
#include <limits>

namespace pyml {
namespace {

constexpr double kMantissaMax = 16777215.0;     // 0x00FFFFFF
constexpr double kScaleUpLimit = 1677726.0;     // 0x0019999E: below it, x10 still fits
constexpr double kFactor100Limit = 1.6777215e14;  // n / 1e7 > 0x00FFFFFF
constexpr storage_word kSignBit = 0x80000000u;
constexpr storage_word kMultiplyMode = 0x40000000u;

// A relative margin far wider than the error of eight double operations
// (8 * 2^-53 ~ 1e-15) and far narrower than any gap the algorithm cares about.
constexpr double kRelativeMargin = 1e-12;
// Mantissas are below 2^24, so the absolute error of the double path is below
// 2^24 * 8 * 2^-53 ~ 1.5e-8; a fraction this close to .5 goes to the oracle.
constexpr double kHalfMargin = 1e-6;

inline bool near_threshold(double x, double threshold) noexcept {
    return std::fabs(x - threshold) <= threshold * kRelativeMargin;
}

inline storage_word finish(storage_word r) noexcept { return r == kEmptySlot ? kAnomalousZero : r; }

// Exact powers used by the fast unpack of multiply mode.
constexpr double kPow10[8] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};
constexpr std::uint64_t kPow5Even[8] = {  // 5^(2m)
    1ull, 25ull, 625ull, 15625ull, 390625ull, 9765625ull, 244140625ull, 6103515625ull};

}  // namespace

storage_word pack_reference(double value, storage_word flags) noexcept {
    storage_word r = flags & kFlagsMask;
    if (value == 0) return finish(r);

    long double n = value;
    long double factor = 10;
    storage_word m = 0;

    if (n < 0) {
        r += kSignBit;
        n = -n;
    }
    if (n / 10000000.0L > static_cast<long double>(0x00FFFFFF)) {
        factor = 100;
        r |= kFactor100;
    }
    while (m < 7 && n > static_cast<long double>(0x00FFFFFF)) {
        n /= factor;
        m++;
    }
    if (m) {
        r += kMultiplyMode + (m << 27);
        if (n > static_cast<long double>(0x00FFFFFF)) {
            r += 0x00FFFFFF;
            return finish(r);
        }
    } else {
        while (m < 7 && n < static_cast<long double>(0x0019999E)) {
            n *= 10;
            m++;
        }
        if (n > static_cast<long double>(0x00FFFFFF)) {
            n /= 10;
            m--;
        }
        r += (m << 27);
    }
    // Round to double first, then to the nearest integer, ties to even.
    // lrint(NaN) is 0x8000000000000000 on x86-64: its low 32 bits add nothing.
    const double as_double = static_cast<double>(n);
    if (!std::isnan(as_double)) r += static_cast<storage_word>(std::lrint(as_double));
    return finish(r);
}

// The fast path finds the exponent by counting thresholds crossed (no
// data-dependent loop) and scales with one exact power of ten. In exact
// arithmetic `n / f^j > 16777215` iff `n > 16777215 * f^j`, and the 80-bit
// chain differs from exact by far less than the margins, so whenever `n` is
// not near a threshold both paths take the same decisions; otherwise, and
// when the scaled value is near a rounding tie, the reference decides.
storage_word pack_word(double value, storage_word flags) noexcept {
    static constexpr double kDown10[8] = {16777215.0,   167772150.0,   1677721500.0,   16777215000.0,
                                          167772150000.0, 1677721500000.0, 16777215000000.0, 167772150000000.0};
    static constexpr double kDown100[8] = {16777215.0,     1677721500.0,     167772150000.0,
                                           16777215000000.0, 1677721500000000.0, 167772150000000000.0,
                                           16777215000000000000.0, 1677721500000000000000.0};
    // Reciprocals of 10^m and 100^m: a product is within 2 ulp of the exact
    // quotient, far inside the margins.
    static constexpr double kInvPow10[8] = {1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7};
    static constexpr double kInvPow100[8] = {1e0, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12, 1e-14};
    static constexpr double kUp[8] = {1677726.0, 167772.6, 16777.26, 1677.726, 167.7726,
                                      16.77726, 1.677726, 0.1677726};

    storage_word r = flags & kFlagsMask;
    if (value == 0) return finish(r);
    const double n = std::fabs(value);
    if (!(n <= std::numeric_limits<double>::max())) return pack_reference(value, flags);  // NaN, inf
    if (value < 0) r += kSignBit;

    double scaled;
    storage_word m = 0;
    if (n > kMantissaMax) {
        if (near_threshold(n, kFactor100Limit)) return pack_reference(value, flags);
        const bool by_100 = n > kFactor100Limit;
        const double* down = by_100 ? kDown100 : kDown10;
        for (int j = 1; j < 7; ++j) m += n > down[j];
        m += 1;  // n > down[0] already
        if (near_threshold(n, down[m - 1]) || near_threshold(n, down[m])) {
            return pack_reference(value, flags);
        }
        if (by_100) r |= kFactor100;
        r += kMultiplyMode + (m << 27);
        if (n > down[7]) return finish(r + 0x00FFFFFF);  // m == 7 and still too big: saturate
        scaled = n * (by_100 ? kInvPow100[m] : kInvPow10[m]);
    } else {
        if (near_threshold(n, kMantissaMax)) return pack_reference(value, flags);
        for (int j = 0; j < 7; ++j) m += n < kUp[j];
        if ((m > 0 && near_threshold(n, kUp[m - 1])) || near_threshold(n, kUp[m])) {
            return pack_reference(value, flags);
        }
        scaled = n * kPow10[m];
        if (near_threshold(scaled, kMantissaMax)) return pack_reference(value, flags);
        if (scaled > kMantissaMax) {  // the last x10 overflowed: undo it
            m--;
            scaled = n * kPow10[m];
        }
        r += (m << 27);
    }
    // 0 <= scaled < 2^25: truncation is floor, and the fraction is exact.
    const auto whole = static_cast<std::int32_t>(scaled);
    const double fraction = scaled - static_cast<double>(whole);
    if (std::fabs(fraction - 0.5) <= kHalfMargin) return pack_reference(value, flags);
    return finish(r + static_cast<storage_word>(whole + (fraction < 0.5 ? 0 : 1)));
}

storage_word pack_sample(double value, bool anomalous, bool reset) noexcept {
    if (std::isnan(value)) return kEmptySlot;
    return pack_word(value, sample_flags(anomalous, reset));
}

double unpack_reference(storage_word word) noexcept {
    if (word == kEmptySlot) return 0.0;
    const long double factor = (word & kFactor100) ? 100.0L : 10.0L;
    unsigned m = (word >> 27) & 7u;
    long double n = static_cast<long double>(word & kMantissaMask);
    if (word & kMultiplyMode) {
        while (m--) n *= factor;
    } else {
        while (m--) n /= 10;
    }
    if (word & kSignBit) n = -n;
    return static_cast<double>(n);
}

double unpack_double(storage_word word) noexcept {
    if (word == kEmptySlot) return 0.0;
    const double factor = (word & kFactor100) ? 100.0 : 10.0;
    unsigned m = (word >> 27) & 7u;
    double n = static_cast<double>(word & kMantissaMask);
    if (word & kMultiplyMode) {
        while (m--) n *= factor;
    } else {
        while (m--) n /= 10;
    }
    return (word & kSignBit) ? -n : n;
}

// Identical results to unpack_reference. Multiply mode is an exact integer
// (at most 57 significant bits), which both the 80-bit path and this one round
// once to double; divide mode keeps the 80-bit chain of divisions.
double unpack_word(storage_word word) noexcept {
    const unsigned m = (word >> 27) & 7u;
    const std::uint32_t mantissa = word & kMantissaMask;
    double n;
    if (m == 0) {
        n = static_cast<double>(mantissa);
    } else if (word & kMultiplyMode) {
        if (word & kFactor100) {
            // mantissa * 100^m = mantissa * 5^(2m) * 2^(2m); the integer part fits in 57 bits.
            const std::uint64_t odd = static_cast<std::uint64_t>(mantissa) * kPow5Even[m];
            n = std::ldexp(static_cast<double>(static_cast<std::int64_t>(odd)), static_cast<int>(2 * m));
        } else {
            n = static_cast<double>(mantissa) * kPow10[m];  // exact: below 2^48
        }
    } else {
        long double x = mantissa;
        for (unsigned i = 0; i < m; ++i) x /= 10;
        n = static_cast<double>(x);
    }
    return (word & kSignBit) ? -n : n;
}

void pack_samples(const double* values, std::size_t n, const std::uint8_t* anomalous,
                  std::size_t anomalous_stride, const std::uint8_t* reset,
                  std::size_t reset_stride, storage_word* out) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = pack_sample(values[i], anomalous[i * anomalous_stride] != 0,
                             reset[i * reset_stride] != 0);
    }
}

void unpack_samples(const storage_word* words, std::size_t n, double* values,
                    std::uint8_t* anomalous, std::uint8_t* exists) noexcept {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t i = 0; i < n; ++i) {
        const storage_word w = words[i];
        values[i] = w == kEmptySlot ? nan : unpack_word(w);
        anomalous[i] = word_anomalous(w);
        exists[i] = word_exists(w);
    }
}

void unpack_samples_double(const storage_word* words, std::size_t n, double* values) noexcept {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t i = 0; i < n; ++i) {
        values[i] = words[i] == kEmptySlot ? nan : unpack_double(words[i]);
    }
}

}  // namespace pyml
