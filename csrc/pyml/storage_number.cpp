#include "storage_number.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// Batch pack without data-dependent branches: a table over the binary
// exponent of |value|.
//
// pack_word's decisions (the exponent m, the mode, the factor, the scale) are
// constant between its thresholds. Sorting the thresholds gives a list of
// zones (each threshold, or each pair of thresholds close together, widened
// by kZoneMargin on both sides) and of intervals between them, on each of
// which pack_word takes its fast path with one fixed m and scale:
//   small values, m = 7..0: [1677726e-m, 16777215e-m], scale 10^m; the zone
//     between two of them, [16777215e-m, 1677726e-(m-1)], holds pack_word's
//     thresholds kUp[m-1] and 16777215e-m (where x10 overflows);
//   large values, factor 10, m = 1..7: (16777215e(m-1), 16777215e(m)], scale 1e-m;
//   factor 100 (beyond 1.6777215e14), m = 4..7: up to 16777215e(2m), scale 1e-2m;
//   from 1.6777215e21 on (saturation), inf and NaN: one zone without end.
// Zones are at least a factor of 10 apart, so a binade [2^e, 2^(e+1)) meets
// at most one; its table entry holds that zone and the intervals on either
// side. A lane inside a zone, or whose scaled value is near a rounding tie,
// is handed to pack_word. Every zone contains, with room to spare, the values
// where pack_word falls back to the reference (|n - t| <= 1e-12 t around each
// threshold t) or corrects m, so every other lane takes pack_word's fast path
// with the same m and scale, and the same arithmetic gives the same word.
namespace {

constexpr double kZoneMargin = 4e-12;
constexpr int kBandMinExp = -4;  // every |value| below 2^-4 packs like 2^-4 (m = 7, no zone)
constexpr int kBandMaxExp = 71;  // 2^71 > 1.6777215e21: wholly in the last zone
constexpr std::size_t kBands = kBandMaxExp - kBandMinExp + 1;
constexpr std::size_t kZones = 20;

struct PackTable {
    std::uint8_t band_of[2048] = {};               // biased exponent -> band
    alignas(16) double zone[kBands][2] = {};       // [lo, hi] goes to pack_word
    alignas(16) double scale[kBands][2] = {};      // below the zone, above it
    alignas(8) storage_word add[kBands][2] = {};   // multiply mode, factor 100, exponent; below, above
};

struct Interval {
    double scale;
    storage_word add;
};

constexpr Interval small_interval(unsigned m) { return {kPow10[m], m << 27}; }

constexpr Interval large_interval(unsigned m, bool by_100) {
    constexpr double kInv10[8] = {1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7};
    constexpr double kInv100[8] = {1e0, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12, 1e-14};
    return {by_100 ? kInv100[m] : kInv10[m], kMultiplyMode + (by_100 ? kFactor100 : 0u) + (m << 27)};
}

constexpr PackTable make_pack_table() {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    constexpr double kUp[8] = {1677726.0, 167772.6, 16777.26, 1677.726, 167.7726, 16.77726, 1.677726, 0.1677726};
    constexpr double kTop[8] = {16777215.0, 1677721.5, 167772.15, 16777.215, 1677.7215, 167.77215, 16.777215,
                                1.6777215};  // 16777215e-m
    // Zones (before widening) and the intervals between them, ascending.
    double lo[kZones] = {}, hi[kZones] = {};
    Interval interval[kZones] = {};  // interval[k] lies just below zone k
    std::size_t z = 0;
    interval[z] = small_interval(7);
    lo[z] = hi[z] = kUp[7];  // not a decision of pack_word, but one of its fallbacks
    interval[++z] = small_interval(7);
    for (unsigned m = 7; m >= 1; --m) {
        lo[z] = kTop[m];
        hi[z] = kUp[m - 1];
        interval[++z] = small_interval(m - 1);
    }
    double t = 16777215.0;
    for (unsigned m = 1; m <= 7; ++m, t *= 10.0) {  // t = 16777215e(m-1)
        lo[z] = hi[z] = t;
        interval[++z] = large_interval(m, false);
    }
    const double factor100[4] = {1.6777215e14, 1.6777215e15, 1.6777215e17, 1.6777215e19};
    for (unsigned m = 4; m <= 7; ++m) {
        lo[z] = hi[z] = factor100[m - 4];
        interval[++z] = large_interval(m, true);
    }
    lo[z] = 1.6777215e21;  // saturation, inf, NaN
    hi[z] = kInf;
    if (++z != kZones) throw "zone count";

    PackTable table{};
    for (std::size_t biased = 0; biased < 2048; ++biased) {
        const int e = static_cast<int>(biased) - 1023;
        table.band_of[biased] = static_cast<std::uint8_t>(
            (e < kBandMinExp ? kBandMinExp : e > kBandMaxExp ? kBandMaxExp : e) - kBandMinExp);
    }
    double edge = 1.0;  // 2^kBandMinExp
    for (int e = 0; e > kBandMinExp; --e) edge *= 0.5;
    for (std::size_t b = 0; b < kBands; ++b, edge *= 2.0) {
        const double next = 2.0 * edge;
        std::size_t below = 0, meets = kZones;
        table.zone[b][0] = table.zone[b][1] = kInf;
        for (std::size_t k = 0; k < kZones; ++k) {
            const double zlo = lo[k] * (1.0 - kZoneMargin), zhi = hi[k] * (1.0 + kZoneMargin);
            if (zhi < edge) ++below;
            if (zhi >= edge && zlo < next) {
                if (meets != kZones) throw "two zones in one binade";
                meets = k;
                table.zone[b][0] = zlo;
                table.zone[b][1] = zhi;
            }
        }
        const Interval under = interval[meets == kZones ? below : meets];
        const Interval over = meets == kZones ? under : meets + 1 < kZones ? interval[meets + 1] : Interval{0.0, 0};
        table.scale[b][0] = under.scale;
        table.add[b][0] = under.add;
        table.scale[b][1] = over.scale;
        table.add[b][1] = over.add;
    }
    if (table.zone[kBands - 1][0] != 0.0 && table.zone[kBands - 1][1] != kInf) throw "last band";
    return table;
}

constexpr PackTable kPackTable = make_pack_table();

// One lane of the batch pack; `slow` is set when pack_word must decide.
// `flags` holds bits 24 and 25 only.
inline storage_word pack_lane(double value, storage_word flags, bool& slow) noexcept {
    constexpr double kRound = 4503599627370496.0;  // 2^52: x + 2^52 rounds 0 <= x < 2^51 to an integer
    std::uint64_t u;
    std::memcpy(&u, &value, sizeof u);
    const std::uint64_t magnitude = u & 0x7FFFFFFFFFFFFFFFull;
    double n;
    std::memcpy(&n, &magnitude, sizeof n);
    const std::size_t b = kPackTable.band_of[magnitude >> 52];
    const bool above = n > kPackTable.zone[b][1];
    const bool in_zone = !(n < kPackTable.zone[b][0]) & !above;  // NaN: in the last zone
    const double scaled = n * kPackTable.scale[b][above];
    // Outside the zones 0 <= scaled < 2^25: `shifted` holds round(scaled) in
    // its low bits (nearest, ties to even; a tie is slow anyway) and `rest`,
    // scaled minus that integer, is exact. pack_word rounds half up: the same
    // integer unless the fraction is near .5.
    const double shifted = scaled + kRound;
    const double rest = scaled - (shifted - kRound);
    slow = in_zone | (std::fabs(rest) >= 0.5 - 2 * kHalfMargin);
    std::uint64_t rounded;
    std::memcpy(&rounded, &shifted, sizeof rounded);
    const storage_word word = flags + kPackTable.add[b][above] + static_cast<storage_word>(u >> 63 << 31) +
                              static_cast<storage_word>(rounded);
    const storage_word zero = flags != 0 ? flags : kAnomalousZero;  // finish() of a zero
    const storage_word is_zero = 0u - static_cast<storage_word>(n == 0);
    return (word & ~is_zero) | (zero & is_zero);
}

#if defined(__SSE2__)
// pack_lane on lanes 0 and 1 of `values`, SSE2: the floating-point half (bands,
// zones, scaled values, the lanes for pack_word as bits 0 and 1 of `slow`).
struct PairParts {
    __m128d above, shifted, zero;
    unsigned slow;
};

inline PairParts pack_pair_parts(const double* values, std::size_t& b0, std::size_t& b1) noexcept {
    const __m128d abs_mask = _mm_castsi128_pd(_mm_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
    const __m128d round = _mm_set1_pd(4503599627370496.0);
    std::uint64_t u0, u1;
    std::memcpy(&u0, values, sizeof u0);
    std::memcpy(&u1, values + 1, sizeof u1);
    b0 = kPackTable.band_of[(u0 >> 52) & 0x7FF];
    b1 = kPackTable.band_of[(u1 >> 52) & 0x7FF];
    const __m128d n = _mm_and_pd(_mm_loadu_pd(values), abs_mask);
    const __m128d zone0 = _mm_load_pd(kPackTable.zone[b0]), zone1 = _mm_load_pd(kPackTable.zone[b1]);
    const __m128d scale0 = _mm_load_pd(kPackTable.scale[b0]), scale1 = _mm_load_pd(kPackTable.scale[b1]);
    PairParts p;
    p.above = _mm_cmpgt_pd(n, _mm_unpackhi_pd(zone0, zone1));
    const __m128d in_zone = _mm_andnot_pd(p.above, _mm_cmpnlt_pd(n, _mm_unpacklo_pd(zone0, zone1)));
    const __m128d scale = _mm_or_pd(_mm_and_pd(p.above, _mm_unpackhi_pd(scale0, scale1)),
                                    _mm_andnot_pd(p.above, _mm_unpacklo_pd(scale0, scale1)));
    const __m128d scaled = _mm_mul_pd(n, scale);
    p.shifted = _mm_add_pd(scaled, round);
    const __m128d rest = _mm_sub_pd(scaled, _mm_sub_pd(p.shifted, round));
    const __m128d tie = _mm_cmpge_pd(_mm_and_pd(rest, abs_mask), _mm_set1_pd(0.5 - 2 * kHalfMargin));
    p.slow = static_cast<unsigned>(_mm_movemask_pd(_mm_or_pd(in_zone, tie)));
    p.zero = _mm_cmpeq_pd(n, _mm_setzero_pd());
    return p;
}

inline __m128i band_adds(std::size_t b0, std::size_t b1) noexcept {  // below0 below1 above0 above1
    return _mm_unpacklo_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(kPackTable.add[b0])),
                              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kPackTable.add[b1])));
}

inline __m128i low_halves(__m128d a, __m128d b) noexcept {  // the low 32 bits of each of the four doubles
    return _mm_castps_si128(_mm_shuffle_ps(_mm_castpd_ps(a), _mm_castpd_ps(b), _MM_SHUFFLE(2, 0, 2, 0)));
}

// pack_lane on four lanes at once; bit l of the result is lane l's `slow`.
// The words are assembled as four 32-bit lanes.
inline unsigned pack_quad(const double* values, const storage_word* flags, storage_word* out) noexcept {
    std::size_t a0, a1, c0, c1;
    const PairParts a = pack_pair_parts(values, a0, a1);
    const PairParts c = pack_pair_parts(values + 2, c0, c1);
    const __m128i adds_a = band_adds(a0, a1), adds_c = band_adds(c0, c1);
    const __m128i below = _mm_unpacklo_epi64(adds_a, adds_c), over = _mm_unpackhi_epi64(adds_a, adds_c);
    const __m128i above = low_halves(a.above, c.above);
    const __m128i add = _mm_or_si128(_mm_and_si128(above, over), _mm_andnot_si128(above, below));
    const __m128i mantissa = low_halves(a.shifted, c.shifted);
    const __m128i sign = _mm_and_si128(
        _mm_castps_si128(_mm_shuffle_ps(_mm_castpd_ps(_mm_loadu_pd(values)), _mm_castpd_ps(_mm_loadu_pd(values + 2)),
                                        _MM_SHUFFLE(3, 1, 3, 1))),
        _mm_set1_epi32(static_cast<int>(kSignBit)));
    const __m128i f = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(flags)),
                                    _mm_set1_epi32(static_cast<int>(kAnomalyBit | kResetFlag)));
    const __m128i word = _mm_add_epi32(_mm_add_epi32(f, add), _mm_add_epi32(sign, mantissa));
    const __m128i zero_word =
        _mm_or_si128(f, _mm_and_si128(_mm_cmpeq_epi32(f, _mm_setzero_si128()), _mm_set1_epi32(kAnomalousZero)));
    const __m128i is_zero = low_halves(a.zero, c.zero);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                     _mm_or_si128(_mm_and_si128(is_zero, zero_word), _mm_andnot_si128(is_zero, word)));
    return a.slow | (c.slow << 2);
}
#endif

}  // namespace

void pack_flagged(const double* values, const storage_word* flags, std::size_t n, storage_word* out) noexcept {
    constexpr std::size_t kStep = 64;
    constexpr storage_word kSampleFlags = kAnomalyBit | kResetFlag;
    for (std::size_t i = 0; i < n; i += kStep) {
        const std::size_t m = n - i < kStep ? n - i : kStep;
        std::uint64_t slow = 0;
        std::size_t j = 0;
#if defined(__SSE2__)
        for (; j + 4 <= m; j += 4) {
            slow |= static_cast<std::uint64_t>(pack_quad(values + i + j, flags + i + j, out + i + j)) << j;
        }
#endif
        for (; j < m; ++j) {
            bool s;
            out[i + j] = pack_lane(values[i + j], flags[i + j] & kSampleFlags, s);
            slow |= static_cast<std::uint64_t>(s) << j;
        }
        while (slow != 0) {
            const auto j = static_cast<std::size_t>(__builtin_ctzll(slow));
            slow &= slow - 1;
            const double v = values[i + j];
            out[i + j] = std::isnan(v) ? kEmptySlot : pack_word(v, flags[i + j] & kSampleFlags);
        }
    }
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
