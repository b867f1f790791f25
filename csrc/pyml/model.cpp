#include "pyml/model.hpp"

#include "pyml/describe.hpp"
#include "pyml/sampling.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif


namespace pyml {

namespace {

// ------------------------------------------------------------------ serialisation helpers

// Layout (little-endian): magic "PYMLMODL", u32 version, u32 k, u32 dims,
// f64 min_dist, f64 max_dist, f64 centers[k * dims], u32 CRC-32 of all
// preceding bytes.
constexpr char kMagic[8] = {'P', 'Y', 'M', 'L', 'M', 'O', 'D', 'L'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kHeaderBytes = 8 + 4 + 4 + 4 + 8 + 8;
constexpr std::uint32_t kMaxSerialisedK = 1u << 16;
constexpr std::uint32_t kMaxSerialisedDims = 1u << 16;

std::uint32_t crc32(const unsigned char* data, std::size_t n) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int b = 0; b < 8; ++b) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

void put_f64(std::string& out, double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFFu));
}

std::uint32_t get_u32(const unsigned char* p) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

double get_f64(const unsigned char* p) {
    std::uint64_t bits = 0;
    for (int i = 7; i >= 0; --i) bits = (bits << 8) | p[i];
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}

// ------------------------------------------------------------------ distances

// Mean distance of x to the two centres, as the reference computes it.
template <std::size_t D>
inline double mean_distance2(const double* c0, const double* c1, const double* const* cols, std::size_t r) {
    double s0 = 0.0, s1 = 0.0;
    for (std::size_t e = 0; e < D; ++e) {
        const double x = cols[e][r];
        const double t0 = c0[e] - x;
        const double t1 = c1[e] - x;
        s0 += t0 * t0;
        s1 += t1 * t1;
    }
    double sum = 0.0;
    sum += std::sqrt(s0);
    sum += std::sqrt(s1);
    return sum / 2;
}

template <std::size_t D>
void distance_range2(const Model& m, const double* const* cols, std::size_t n, double& lo, double& hi) {
    const double* c0 = m.centers.data();
    const double* c1 = c0 + D;
    const double* col[D];
    for (std::size_t e = 0; e < D; ++e) col[e] = cols[e];
    double mn = DBL_MAX, mx = DBL_MIN;
    std::size_t r = 0;
#if defined(__SSE2__)
    // Two samples at a time, each with the reference's operation order;
    // min/max with the semantics of `if (md < mn) mn = md` (NaN never taken).
    __m128d c0v[D], c1v[D];
    for (std::size_t e = 0; e < D; ++e) {
        c0v[e] = _mm_set1_pd(c0[e]);
        c1v[e] = _mm_set1_pd(c1[e]);
    }
    const __m128d zero = _mm_setzero_pd(), half = _mm_set1_pd(0.5);
    __m128d mnv = _mm_set1_pd(DBL_MAX), mxv = _mm_set1_pd(DBL_MIN);
    for (; r + 2 <= n; r += 2) {
        __m128d s0 = zero, s1 = zero;
        for (std::size_t e = 0; e < D; ++e) {
            const __m128d x = _mm_loadu_pd(col[e] + r);
            const __m128d t0 = _mm_sub_pd(c0v[e], x);
            const __m128d t1 = _mm_sub_pd(c1v[e], x);
            s0 = _mm_add_pd(s0, _mm_mul_pd(t0, t0));
            s1 = _mm_add_pd(s1, _mm_mul_pd(t1, t1));
        }
        // (0.0 + d0 + d1) / 2; halving is exact, as the division by 2 is.
        const __m128d md = _mm_mul_pd(_mm_add_pd(_mm_add_pd(zero, _mm_sqrt_pd(s0)), _mm_sqrt_pd(s1)), half);
        mnv = _mm_min_pd(md, mnv);  // md if md < mn, else mn (also for NaN)
        mxv = _mm_max_pd(md, mxv);
    }
    double a[2], b[2];
    _mm_storeu_pd(a, mnv);
    _mm_storeu_pd(b, mxv);
    for (int l = 0; l < 2; ++l) {
        if (a[l] < mn) mn = a[l];
        if (b[l] > mx) mx = b[l];
    }
#endif
    for (; r < n; ++r) {
        const double md = mean_distance2<D>(c0, c1, col, r);
        if (md < mn) mn = md;
        if (md > mx) mx = md;
    }
    lo = mn;
    hi = mx;
}

using RangeFn = void (*)(const Model&, const double* const*, std::size_t, double&, double&);
constexpr RangeFn kRange2[kMaxFeatureDims + 1] = {nullptr,
                                                  &distance_range2<1>,
                                                  &distance_range2<2>,
                                                  &distance_range2<3>,
                                                  &distance_range2<4>,
                                                  &distance_range2<5>,
                                                  &distance_range2<6>};

void require_finite(const double* series, std::size_t n, const char* name) {
    if (all_finite(series, n)) return;
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(series[i])) {
            throw std::invalid_argument(std::string(name) + "[" + std::to_string(i) + "] = " + describe(series[i]) +
                                        " is not finite");
        }
    }
}

}  // namespace

// ------------------------------------------------------------------ Model

double Model::distance(const double* x) const noexcept {
    double sum = 0.0;
    for (std::size_t j = 0; j < k; ++j) {
        const double* c = centers.data() + j * dims;
        double s = 0.0;
        for (std::size_t e = 0; e < dims; ++e) {
            const double t = c[e] - x[e];
            s += t * t;
        }
        sum += std::sqrt(s);
    }
    return sum / static_cast<double>(k);
}

double Model::score(const double* x) const noexcept {
    const double md = distance(x);
    if (max_dist == min_dist) return 0.0;
    const double score = 100.0 * std::fabs((md - min_dist) / (max_dist - min_dist));
    return score > 100.0 ? 100.0 : score;
}

std::string Model::to_bytes() const {
    if (centers.size() != k * dims) {
        throw std::invalid_argument("model has " + std::to_string(centers.size()) + " centre values; expected k * dims = " +
                                    std::to_string(k * dims));
    }
    if (k == 0 || dims == 0 || k > kMaxSerialisedK || dims > kMaxSerialisedDims) {
        throw std::invalid_argument("model shape k = " + std::to_string(k) + ", dims = " + std::to_string(dims) +
                                    " cannot be serialised");
    }
    std::string out(kMagic, sizeof kMagic);
    out.reserve(kHeaderBytes + 8 * centers.size() + 4);
    put_u32(out, kFormatVersion);
    put_u32(out, static_cast<std::uint32_t>(k));
    put_u32(out, static_cast<std::uint32_t>(dims));
    put_f64(out, min_dist);
    put_f64(out, max_dist);
    for (double c : centers) put_f64(out, c);
    put_u32(out, crc32(reinterpret_cast<const unsigned char*>(out.data()), out.size()));
    return out;
}

Model Model::from_bytes(const std::string& bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    if (n < sizeof kMagic || std::memcmp(p, kMagic, sizeof kMagic) != 0) {
        throw std::invalid_argument("not a pyml model: the bytes do not start with the PYMLMODL header");
    }
    if (n < kHeaderBytes + 4) {
        throw std::invalid_argument("truncated model: " + std::to_string(n) + " bytes, the header alone needs " +
                                    std::to_string(kHeaderBytes + 4));
    }
    const std::uint32_t version = get_u32(p + 8);
    if (version != kFormatVersion) {
        throw std::invalid_argument("unsupported model format version " + std::to_string(version) + " (this build reads " +
                                    std::to_string(kFormatVersion) + ")");
    }
    const std::uint32_t k = get_u32(p + 12), dims = get_u32(p + 16);
    if (k == 0 || dims == 0 || k > kMaxSerialisedK || dims > kMaxSerialisedDims) {
        throw std::invalid_argument("corrupt model: shape k = " + std::to_string(k) + ", dims = " + std::to_string(dims));
    }
    const std::size_t values = static_cast<std::size_t>(k) * dims;
    const std::size_t expected = kHeaderBytes + 8 * values + 4;
    if (n != expected) {
        throw std::invalid_argument(std::string(n < expected ? "truncated" : "corrupt") + " model: " + std::to_string(n) +
                                    " bytes, expected " + std::to_string(expected) + " for k = " + std::to_string(k) +
                                    ", dims = " + std::to_string(dims));
    }
    const std::uint32_t stored = get_u32(p + n - 4);
    const std::uint32_t actual = crc32(p, n - 4);
    if (stored != actual) {
        throw std::invalid_argument("corrupt model: checksum mismatch");
    }
    Model m;
    m.k = k;
    m.dims = dims;
    m.min_dist = get_f64(p + 20);
    m.max_dist = get_f64(p + 28);
    m.centers.resize(values);
    for (std::size_t i = 0; i < values; ++i) m.centers[i] = get_f64(p + kHeaderBytes + 8 * i);
    return m;
}

// ------------------------------------------------------------------ training

void validate_train_params(const TrainParams& p) {
    validate_feature_params(p.features);
    if (p.max_iterations < 1) {
        throw std::invalid_argument("max_iterations = " + std::to_string(p.max_iterations) + " must be at least 1");
    }
    if (p.k < 1) throw std::invalid_argument("k = " + std::to_string(p.k) + " must be at least 1");
    if (p.max_vectors != 0 && (p.max_vectors < 2 || p.max_vectors > kMaxTrainingVectors)) {
        throw std::invalid_argument("max_vectors = " + std::to_string(p.max_vectors) +
                                    " must be 0 (every vector) or in [2, " + std::to_string(kMaxTrainingVectors) +
                                    "]");
    }
    if (p.variant != FeatureVariant::v1 && p.variant != FeatureVariant::v2) {
        throw std::invalid_argument("feature variant " + std::to_string(static_cast<int>(p.variant)) +
                                    " is not v1 or v2");
    }
}

const std::vector<std::uint32_t>& sampling_table_of(const TrainParams& p, TrainScratch& scratch) {
    if (scratch.table_m != p.max_vectors || scratch.table_seed != p.seed || scratch.table.size() != p.max_vectors) {
        scratch.table = sampling_table(p.max_vectors, p.seed);
        scratch.table_m = p.max_vectors;
        scratch.table_seed = p.seed;
    }
    return scratch.table;
}

std::size_t training_vector_count(std::size_t n, const TrainParams& p, TrainScratch& scratch) {
    validate_train_params(p);
    const std::size_t rows = feature_rows(n, p.features);
    if (p.max_vectors == 0) return rows;
    const auto& table = sampling_table_of(p, scratch);
    return sampled_count(rows, table.data(), table.size());
}

bool all_finite(const double* x, std::size_t n) noexcept {
    // A value is inf or NaN iff its exponent field is all ones; adding one at
    // the exponent's lowest bit then carries into the sign bit. Integer
    // operations only, independent per value (vectorised by the compiler).
    constexpr std::uint64_t exponent = 0x7FF0000000000000ULL, low = 0x0010000000000000ULL;
    std::uint64_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t b;
        std::memcpy(&b, x + i, sizeof b);
        bad |= (b & exponent) + low;
    }
    return (bad >> 63) == 0;
}

std::size_t fill_gaps(const double* history, std::size_t n, std::vector<double>& out) {
    if (all_finite(history, n)) {  // no gap, no inf: a copy
        out.assign(history, history + n);
        return n;
    }
    std::size_t existing = 0, first = n;
    for (std::size_t i = 0; i < n; ++i) {
        const double v = history[i];
        if (std::isinf(v)) {
            throw std::invalid_argument("history[" + std::to_string(i) + "] = " + describe(v) +
                                        " is infinite (missing points are NaN)");
        }
        if (!std::isnan(v)) {
            ++existing;
            if (first == n) first = i;
        }
    }
    out.resize(n - first);
    double last = 0.0;
    for (std::size_t i = first; i < n; ++i) {
        if (!std::isnan(history[i])) last = history[i];
        out[i - first] = last;
    }
    return existing;
}

Model train_model(const double* series, std::size_t n, const TrainParams& p) {
    TrainScratch scratch;
    return train_model(series, n, p, scratch);
}

Model train_model(const double* series, std::size_t n, const TrainParams& p, TrainScratch& scratch) {
    validate_train_params(p);
    require_finite(series, n, "series");
    const FeatureParams& f = p.features;
    const std::size_t rows = feature_rows(n, f);
    const std::size_t dims = feature_dims(f);
    if (rows == 0) {
        throw std::invalid_argument("a series of " + std::to_string(n) + " points is too short: one feature vector needs " +
                                    std::to_string(feature_window(f)) + " (diff_n + smooth_n + lag_n)");
    }

    // The rows are windows of one smoothed column: v1 row r, column e is
    // column[r + lag_n - e] (lagged views, newest first); v2 row r, column e
    // is column[r + e] (oldest first).
    const bool v2 = p.variant == FeatureVariant::v2;
    scratch.features.resize(rows + f.lag_n);
    if (v2) {
        smoothed_series_v2(series, n, f, scratch.features.data());
    } else {
        smoothed_series(series, n, f, scratch.features.data());
    }
    const double* col = scratch.features.data();
    const auto element = [&](std::size_t r, std::size_t e) { return v2 ? col[r + e] : col[r + f.lag_n - e]; };

    std::vector<const double*>& columns = scratch.columns;
    columns.resize(dims);
    std::size_t used = rows;
    if (!v2 && p.max_vectors == 0) {
        for (std::size_t e = 0; e < dims; ++e) columns[e] = col + (f.lag_n - e);  // no copy
    } else {
        // Gather the rows used, oldest first, column-major.
        const std::uint32_t* table = nullptr;
        std::size_t m = 0;
        std::uint32_t cutoff = 0;
        if (p.max_vectors != 0) {
            const auto& t = sampling_table_of(p, scratch);
            table = t.data();
            m = t.size();
            cutoff = sampling_cutoff(rows, m);
            used = sampled_count(rows, table, m);
        }
        scratch.kept.resize(used * dims);
        double* kept = scratch.kept.data();
        std::size_t i = 0;
        const auto keep = [&](std::size_t r) {
            for (std::size_t e = 0; e < dims; ++e) kept[e * used + i] = element(r, e);
            ++i;
        };
        if (table != nullptr) {
            // The kept offsets repeat in every block of m vectors.
            kept_offsets(table, m, cutoff, scratch.offsets);
            for (std::size_t block = 0; block < rows; block += m) {
                for (const std::uint32_t offset : scratch.offsets) {
                    if (block + offset >= rows) break;
                    keep(block + offset);
                }
            }
        } else {
            for (std::size_t r = 0; r < rows; ++r) keep(r);
        }
        for (std::size_t e = 0; e < dims; ++e) columns[e] = kept + e * used;
    }
    if (used < p.k) {
        throw std::invalid_argument("k = " + std::to_string(p.k) + " is larger than the number of feature vectors (" +
                                    std::to_string(used) + ")");
    }

    Model m;
    m.k = p.k;
    m.dims = dims;
    m.centers.assign(p.k * dims, 0.0);
    kmeans_columns(columns.data(), used, dims, p.k, p.max_iterations, m.centers.data(), scratch.kmeans);

    double lo = DBL_MAX, hi = DBL_MIN;
    if (p.k == 2) {
        kRange2[dims](m, columns.data(), used, lo, hi);
    } else {
        std::vector<double> x(dims);
        for (std::size_t r = 0; r < used; ++r) {
            for (std::size_t e = 0; e < dims; ++e) x[e] = columns[e][r];
            const double md = m.distance(x.data());
            if (md < lo) lo = md;
            if (md > hi) hi = md;
        }
    }
    m.min_dist = lo;
    m.max_dist = hi;
    return m;
}

}  // namespace pyml
