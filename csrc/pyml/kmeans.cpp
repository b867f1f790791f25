#include "pyml/kmeans.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// On x86-64 with GCC or Clang the float first looks also exist for AVX2
// (eight samples per instruction instead of four), chosen at run time. They
// only decide which samples need a closer look; the results are the same.
#if defined(__x86_64__) && defined(__GNUC__)
#define PYML_KMEANS_AVX2 1
#include <immintrin.h>
#endif

namespace pyml {

using detail::ScoreRecord;
static_assert(sizeof(ScoreRecord) == 16, "ScoreRecord must match dlib's 16-byte record");

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kUnitRoundoff = 0x1p-53;
constexpr std::size_t kMaxFastDims = 6;
constexpr std::size_t kMaxFastDimsF = 6;

// ------------------------------------------------------------------ checks

void require_positive(const char* name, std::size_t value) {
    if (value == 0) throw std::invalid_argument(std::string(name) + " must be at least 1, got 0");
}

void check_pick(std::size_t n, std::size_t dims, std::size_t k) {
    require_positive("number of samples", n);
    require_positive("dims", dims);
    require_positive("k", k);
    if (k > n) {
        throw std::invalid_argument("k = " + std::to_string(k) + " is larger than the number of samples (" +
                                    std::to_string(n) + ")");
    }
}

void check_lloyd(std::size_t n, std::size_t dims, std::size_t k, std::size_t max_iterations) {
    require_positive("number of samples", n);
    require_positive("dims", dims);
    require_positive("k", k);
    require_positive("max_iterations", max_iterations);
}

// ------------------------------------------------------------------ initial centres

// Linear kernel: a dot product accumulated left to right from 0.0 (what the
// reference BLAS ddot computes).
inline double dot(const double* a, const double* b, std::size_t dims) {
    double sum = 0.0;
    for (std::size_t e = 0; e < dims; ++e) sum += a[e] * b[e];
    return sum;
}

// The m-th largest value of d[0..n) (1 <= m <= n, no NaN) in one pass:
// values above a running threshold go to a buffer; a full buffer is cut back
// to its m largest and the threshold raised to the m-th of them. (A value at
// or below the threshold cannot change the m-th largest.)
double mth_largest(const double* d, std::size_t n, std::size_t m, std::vector<double>& buf) {
    const std::size_t cap = std::max<std::size_t>(4 * m, 64);
    buf.resize(cap);
    double* b = buf.data();
    std::size_t used = 0, i = 0;
    for (; i < n && used < cap; ++i) b[used++] = d[i];
    double threshold = -kInf;
    bool have_threshold = false;
    for (;;) {
        if (used == cap) {
            std::nth_element(b, b + (m - 1), b + used, std::greater<double>());
            threshold = b[m - 1];
            have_threshold = true;
            used = m;
        }
        if (i == n) break;
        for (; i < n && used < cap; ++i) {
            const double v = d[i];
            if (v > threshold) b[used++] = v;
        }
    }
    if (!have_threshold || used > m) std::nth_element(b, b + (m - 1), b + used, std::greater<double>());
    return b[m - 1];
}

// ------------------------------------------------------------------ std::sort, one position
//
// libstdc++'s std::sort is an introsort: while a range holds more than 16
// records it moves the median of (second, middle, last) to the front,
// partitions the rest around it (unguarded Hoare partition) and treats the
// two parts independently (heap sort when the depth budget 2 * floor(log2 n)
// runs out); a final insertion sort then orders each leaf range, and no
// record crosses from one leaf to another (every record of a left part is
// <= every record of a right part). So the record that ends at a given
// position is found by following only the part that holds it, doing the same
// steps on the same contents: the result equals std::sort's, at the cost of
// a selection. Written from that description of the algorithm; the unit
// tests check it against std::sort itself.
namespace sort_path {

inline bool less(const ScoreRecord& a, const ScoreRecord& b) { return a.dist < b.dist; }

void move_median_to_first(ScoreRecord* result, ScoreRecord* a, ScoreRecord* b, ScoreRecord* c) {
    if (less(*a, *b)) {
        if (less(*b, *c)) std::swap(*result, *b);
        else if (less(*a, *c)) std::swap(*result, *c);
        else std::swap(*result, *a);
    } else if (less(*a, *c)) {
        std::swap(*result, *a);
    } else if (less(*b, *c)) {
        std::swap(*result, *c);
    } else {
        std::swap(*result, *b);
    }
}

ScoreRecord* unguarded_partition(ScoreRecord* first, ScoreRecord* last, const ScoreRecord* pivot) {
    for (;;) {
        while (less(*first, *pivot)) ++first;
        --last;
        while (less(*pivot, *last)) --last;
        if (!(first < last)) return first;
        std::swap(*first, *last);
        ++first;
    }
}

void push_heap(ScoreRecord* first, long hole, long top, ScoreRecord value) {
    long parent = (hole - 1) / 2;
    while (hole > top && less(first[parent], value)) {
        first[hole] = first[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    first[hole] = value;
}

void adjust_heap(ScoreRecord* first, long hole, long len, ScoreRecord value) {
    const long top = hole;
    long child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (less(first[child], first[child - 1])) --child;
        first[hole] = first[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        first[hole] = first[child - 1];
        hole = child - 1;
    }
    push_heap(first, hole, top, value);
}

void heap_sort(ScoreRecord* first, ScoreRecord* last) {
    const long len = last - first;
    if (len >= 2) {
        for (long parent = (len - 2) / 2;; --parent) {
            adjust_heap(first, parent, len, first[parent]);
            if (parent == 0) break;
        }
    }
    while (last - first > 1) {
        --last;
        const ScoreRecord value = *last;
        *last = *first;
        adjust_heap(first, 0, last - first, value);
    }
}

void insertion_sort(ScoreRecord* first, ScoreRecord* last) {
    for (ScoreRecord* i = first + (first != last ? 1 : 0); i < last; ++i) {
        const ScoreRecord value = *i;
        ScoreRecord* hole = i;
        while (hole != first && less(value, *(hole - 1))) {
            *hole = *(hole - 1);
            --hole;
        }
        *hole = value;
    }
}

}  // namespace sort_path

// dist[r] is record r's distance: finite or -inf when stored (then the
// record's idx is r), +inf when never stored (idx 0). Returns the idx of the
// record at `rank` after std::sort of the records. When the distance at that
// rank belongs to a single idx every tie order gives it, so a selection
// suffices; otherwise std::sort decides, as in dlib.
long index_at_rank(const double* dist, std::size_t n, std::size_t rank, std::vector<double>& select,
                   std::vector<ScoreRecord>& records) {
    const double value = mth_largest(dist, n, n - rank, select);
    // Every +inf record has idx 0. A finite (or -inf) value is unique when it
    // occurs once.
    if (!(value < kInf)) return 0;
    std::size_t count = 0, first = n, r = 0;
#if defined(__SSE2__)
    const __m128d v = _mm_set1_pd(value);
    for (; r + 2 <= n && count < 2; r += 2) {
        const unsigned m = static_cast<unsigned>(_mm_movemask_pd(_mm_cmpeq_pd(_mm_loadu_pd(dist + r), v)));
        if (m != 0) {
            if (first == n) first = r + ((m & 1) ? 0 : 1);
            count += (m & 1) + (m >> 1);
        }
    }
#endif
    for (; r < n && count < 2; ++r) {
        if (dist[r] == value) {
            if (first == n) first = r;
            ++count;
        }
    }
    if (count == 1) return static_cast<long>(first);
    records.resize(n);
    for (std::size_t r = 0; r < n; ++r) records[r] = ScoreRecord{dist[r] < kInf ? static_cast<long>(r) : 0, dist[r]};
    return detail::sorted_record_index(records, rank);
}

// dlib's pick for any k and dims (row-major X).
void pick_generic(const double* X, std::size_t n, std::size_t dims, std::size_t k, double* centers) {
    std::copy(X, X + dims, centers);
    if (k == 1) return;
    const std::size_t rank = initial_center_rank(n);
    std::vector<double> best(n, kInf), select;
    std::vector<ScoreRecord> records;
    for (std::size_t i = 0; i + 1 < k; ++i) {
        const double* c = centers + i * dims;
        const double kcc = dot(c, c, dims);
        for (std::size_t s = 0; s < n; ++s) {
            const double* x = X + s * dims;
            const double dist = (kcc + dot(x, x, dims)) - 2 * dot(x, c, dims);
            if (dist < best[s]) best[s] = dist;
        }
        const long pick = index_at_rank(best.data(), n, rank, select, records);
        const double* chosen = X + static_cast<std::size_t>(pick) * dims;
        std::copy(chosen, chosen + dims, centers + (i + 1) * dims);
    }
}

// ------------------------------------------------------------------ Lloyd, literal

std::size_t lloyd_generic(const double* X, std::size_t n, std::size_t dims, std::size_t k, std::size_t max_iterations,
                          double* centers) {
    std::vector<std::size_t> assign(n, n);  // n: not assigned yet (dlib's sentinel)
    std::vector<std::size_t> counts(k);
    std::size_t iter = 0;
    bool changed = true;
    while (changed && iter < max_iterations) {
        ++iter;
        changed = false;
        std::fill(counts.begin(), counts.end(), 0);
        for (std::size_t i = 0; i < n; ++i) {
            const double* x = X + i * dims;
            double best_dist = DBL_MAX;
            std::size_t best = 0;
            for (std::size_t j = 0; j < k; ++j) {
                const double* c = centers + j * dims;
                double sum = 0.0;
                for (std::size_t e = 0; e < dims; ++e) {
                    const double t = c[e] - x[e];
                    sum += t * t;
                }
                const double dist = std::sqrt(sum);
                if (dist < best_dist) {
                    best_dist = dist;
                    best = j;
                }
            }
            if (assign[i] != best) {
                changed = true;
                assign[i] = best;
            }
            ++counts[best];
        }
        std::fill(centers, centers + k * dims, 0.0);
        for (std::size_t i = 0; i < n; ++i) {
            double* c = centers + assign[i] * dims;
            const double* x = X + i * dims;
            for (std::size_t e = 0; e < dims; ++e) c[e] += x[e];
        }
        for (std::size_t j = 0; j < k; ++j) {
            if (counts[j] == 0) continue;
            const double f = 1.0 / static_cast<double>(counts[j]);
            for (std::size_t e = 0; e < dims; ++e) centers[j * dims + e] *= f;
        }
    }
    return iter;
}

// ------------------------------------------------------------------ fast path: k = 2, dims <= 6
//
// Samples are read through column pointers, x(r, e) = c[e][r] (vectorised
// across samples, never within one, so each sample sees the literal operation
// order), and through row access for the centre sums. Results equal the
// literal path bit for bit:
//
// * Initial pick: the same kernel distances; a selection replaces the sort
//   when the distance at the chosen rank belongs to one sample, and
//   otherwise std::sort's introsort is followed down to that rank only.
// * Assignment: dlib picks centre 1 iff sqrt(s1) < sqrt(s0) (s = the
//   sequential sum of squares). With g(x) = |c0 - x|^2 - |c1 - x|^2 (exact
//   real value), that comparison is decided by the sign of g whenever
//   |g| > esq, where esq bounds the rounding of s0 and s1 ((D + 3) u each,
//   relative) plus a 4u gap that keeps their square roots apart. g is
//   evaluated as the linear form b - 2 w.x, first in float, then in double
//   when float cannot decide; samples neither can decide, and all samples
//   when anything is not finite, are decided by the literal computation
//   (with dlib's exact centres). Identical centres keep every sample at 0.
// * Across iterations each sample keeps a lower bound on |g| (Hamerly-style):
//   g moves by at most db + dw * sum_e |x_e| (from how far the centres
//   moved), so a sample whose bound stays above esq keeps its assignment
//   without being evaluated.
// * Centres: between iterations the two cluster sums are estimates with
//   rigorous error bounds that widen esq: after the first pass, or when many
//   samples moved, the smaller cluster's sum (in any order) and the column
//   totals minus it; otherwise the previous sums with the moved samples
//   transferred. dlib's sequential sums are computed when a literal decision
//   needs them and for the result: per cluster in sample order, scaled by
//   1/count; an empty cluster's centre is the zero vector. An iteration
//   without changes ends the loop (recomputing the centres from the same
//   assignment gives the same values).
// * Preparation: one pass per coordinate gives the magnitudes the bounds
//   use, finiteness, each sample's l1 norm and the float copies; the float
//   evaluation runs four samples per SSE2 instruction or eight per AVX2 one
//   (KmeansKernel), with the same operations per sample.

inline std::size_t popcount64(std::uint64_t v) {
    v = v - ((v >> 1) & 0x5555555555555555ULL);
    v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return static_cast<std::size_t>((v * 0x0101010101010101ULL) >> 56);
}

inline int lowest_bit(std::uint64_t v) { return __builtin_ctzll(v); }

template <std::size_t D>
struct Columns {
    const double* c[D];
};

// Row access for the centre sums: element (r, e) is base[r * D + e]
// (row-major) or, when Reversed, base[r - e] (lagged views of one series:
// each row is a contiguous slice in reverse order).
template <std::size_t D, bool Reversed>
struct Rows {
    const double* base;
    const double* at(std::size_t r, std::size_t e) const {
        return Reversed ? base + (static_cast<std::ptrdiff_t>(r) - static_cast<std::ptrdiff_t>(e)) : base + r * D + e;
    }
};

// Kernel distance of every sample to c0 as dlib computes it, stored as the
// record's dist (d if d < inf, else +inf: NaN and +inf are never stored).
template <std::size_t D>
void kernel_distances(const Columns<D>& X, std::size_t n, const double* c0, double* out) {
    double kcc = 0.0;
    for (std::size_t e = 0; e < D; ++e) kcc += c0[e] * c0[e];
    std::size_t r = 0;
#if defined(__SSE2__)
    const __m128d kccv = _mm_set1_pd(kcc);
    const __m128d two = _mm_set1_pd(2.0);
    const __m128d infv = _mm_set1_pd(kInf);
    __m128d cv[D];
    for (std::size_t e = 0; e < D; ++e) cv[e] = _mm_set1_pd(c0[e]);
    for (; r + 2 <= n; r += 2) {
        __m128d kss = _mm_setzero_pd(), ksc = _mm_setzero_pd();
        for (std::size_t e = 0; e < D; ++e) {
            const __m128d x = _mm_loadu_pd(X.c[e] + r);
            kss = _mm_add_pd(kss, _mm_mul_pd(x, x));
            ksc = _mm_add_pd(ksc, _mm_mul_pd(x, cv[e]));
        }
        const __m128d d = _mm_sub_pd(_mm_add_pd(kccv, kss), _mm_mul_pd(two, ksc));
        const __m128d stored = _mm_cmplt_pd(d, infv);
        _mm_storeu_pd(out + r, _mm_or_pd(_mm_and_pd(stored, d), _mm_andnot_pd(stored, infv)));
    }
#endif
    for (; r < n; ++r) {
        double kss = 0.0, ksc = 0.0;
        for (std::size_t e = 0; e < D; ++e) {
            const double x = X.c[e][r];
            kss += x * x;
            ksc += x * c0[e];
        }
        const double d = (kcc + kss) - 2 * ksc;
        out[r] = d < kInf ? d : kInf;
    }
}

#if defined(PYML_KMEANS_AVX2)
// kernel_distances four samples per AVX step (each lane the same operations).
template <std::size_t D>
__attribute__((target("avx2"))) void kernel_distances_avx2(const Columns<D>& X, std::size_t n, const double* c0,
                                                           double* out) {
    double kcc = 0.0;
    for (std::size_t e = 0; e < D; ++e) kcc += c0[e] * c0[e];
    const double* x[D];
    for (std::size_t e = 0; e < D; ++e) x[e] = X.c[e];
    const __m256d kccv = _mm256_set1_pd(kcc);
    const __m256d two = _mm256_set1_pd(2.0);
    const __m256d infv = _mm256_set1_pd(kInf);
    __m256d cv[D];
    for (std::size_t e = 0; e < D; ++e) cv[e] = _mm256_set1_pd(c0[e]);
    std::size_t r = 0;
    for (; r + 4 <= n; r += 4) {
        __m256d kss = _mm256_setzero_pd(), ksc = _mm256_setzero_pd();
        for (std::size_t e = 0; e < D; ++e) {
            const __m256d v = _mm256_loadu_pd(x[e] + r);
            kss = _mm256_add_pd(kss, _mm256_mul_pd(v, v));
            ksc = _mm256_add_pd(ksc, _mm256_mul_pd(v, cv[e]));
        }
        const __m256d d = _mm256_sub_pd(_mm256_add_pd(kccv, kss), _mm256_mul_pd(two, ksc));
        _mm256_storeu_pd(out + r, _mm256_blendv_pd(infv, d, _mm256_cmp_pd(d, infv, _CMP_LT_OQ)));
    }
    for (; r < n; ++r) {
        double kss = 0.0, ksc = 0.0;
        for (std::size_t e = 0; e < D; ++e) {
            const double v = x[e][r];
            kss += v * v;
            ksc += v * c0[e];
        }
        const double d = (kcc + kss) - 2 * ksc;
        out[r] = d < kInf ? d : kInf;
    }
}
#endif

bool wide_kernel(KmeansKernel kernel);

template <std::size_t D>
void pick2(const Columns<D>& X, std::size_t n, double* centers, KmeansWorkspace& ws) {
    double c0[D];
    for (std::size_t e = 0; e < D; ++e) c0[e] = X.c[e][0];
    ws.dist.resize(n);
#if defined(PYML_KMEANS_AVX2)
    if (wide_kernel(ws.kernel)) {
        kernel_distances_avx2<D>(X, n, c0, ws.dist.data());
    } else {
        kernel_distances<D>(X, n, c0, ws.dist.data());
    }
#else
    kernel_distances<D>(X, n, c0, ws.dist.data());
#endif
    const long idx = index_at_rank(ws.dist.data(), n, initial_center_rank(n), ws.select, ws.records);
    for (std::size_t e = 0; e < D; ++e) {
        centers[e] = c0[e];
        centers[D + e] = X.c[e][static_cast<std::size_t>(idx)];
    }
}

// dlib's choice between two centres for one sample: 1 iff the second distance
// is strictly below the first (and below DBL_MAX).
template <std::size_t D>
inline std::uint64_t exact_choice(const Columns<D>& X, std::size_t r, const double* c0, const double* c1) {
    double s0 = 0.0, s1 = 0.0;
    for (std::size_t e = 0; e < D; ++e) {
        const double x = X.c[e][r];
        const double t0 = c0[e] - x;
        const double t1 = c1[e] - x;
        s0 += t0 * t0;
        s1 += t1 * t1;
    }
    double best = DBL_MAX;
    const double d0 = std::sqrt(s0);
    const double d1 = std::sqrt(s1);
    if (d0 < best) best = d0;
    return d1 < best ? 1 : 0;
}

// exact_choice for every sample of a word selected by `which`, into `bits`
// (pairs of samples per SSE operation, each lane with the literal order).
template <std::size_t D>
void exact_choices(const Columns<D>& X, std::size_t r0, std::size_t len, const double* c0, const double* c1,
                   std::uint64_t which, std::uint64_t& bits) {
    std::uint64_t done = 0;
#if defined(__SSE2__)
    const std::size_t even_len = len & ~std::size_t{1};
    const std::uint64_t full_pairs =
        (even_len == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << even_len) - 1)) & 0x5555555555555555ULL;
    std::uint64_t pairs = (which | (which >> 1)) & full_pairs;
    if (pairs) {
        __m128d c0v[D], c1v[D];
        for (std::size_t e = 0; e < D; ++e) {
            c0v[e] = _mm_set1_pd(c0[e]);
            c1v[e] = _mm_set1_pd(c1[e]);
        }
        const __m128d dmax = _mm_set1_pd(DBL_MAX);
        while (pairs) {
            const std::size_t j = static_cast<std::size_t>(lowest_bit(pairs));
            pairs &= pairs - 1;
            __m128d s0 = _mm_setzero_pd(), s1 = _mm_setzero_pd();
            for (std::size_t e = 0; e < D; ++e) {
                const __m128d x = _mm_loadu_pd(X.c[e] + r0 + j);
                const __m128d t0 = _mm_sub_pd(c0v[e], x);
                const __m128d t1 = _mm_sub_pd(c1v[e], x);
                s0 = _mm_add_pd(s0, _mm_mul_pd(t0, t0));
                s1 = _mm_add_pd(s1, _mm_mul_pd(t1, t1));
            }
            const __m128d d0 = _mm_sqrt_pd(s0), d1 = _mm_sqrt_pd(s1);
            const __m128d below = _mm_cmplt_pd(d0, dmax);
            const __m128d best = _mm_or_pd(_mm_and_pd(below, d0), _mm_andnot_pd(below, dmax));
            const std::uint64_t one = static_cast<std::uint64_t>(_mm_movemask_pd(_mm_cmplt_pd(d1, best)));
            bits = (bits & ~(std::uint64_t{3} << j)) | (one << j);
            done |= std::uint64_t{3} << j;
        }
    }
#endif
    std::uint64_t rest = which & ~done;
    while (rest) {
        const int j = lowest_bit(rest);
        rest &= rest - 1;
        const std::uint64_t bit = std::uint64_t{1} << j;
        const bool one = exact_choice<D>(X, r0 + static_cast<std::size_t>(j), c0, c1) != 0;
        bits = one ? (bits | bit) : (bits & ~bit);
    }
}

// What one iteration's assignment needs: the linear form
// g_hat(x) = b - sum_e w2[e] x_e, the bounds errg (|g_hat - g|) and esq, the
// decision threshold T = errg + esq; the drift accumulated so far, which for
// a sample x is at most db + dw * l1(x) (l1(x) >= sum_e |x_e|); and the skip
// threshold thr = esq + db, rounded up. T and thr are NaN when anything is
// not finite, which sends every sample to the literal computation.
template <std::size_t D>
struct Step {
    double w2[D];
    double b = 0.0, errg = 0.0, esq = 0.0, T = 0.0, db = 0.0, dw = 0.0, thr = 0.0;
};

constexpr double kShrink = 1 - 0x1p-50;  // rounding slack: lower bounds are scaled by it,
constexpr double kGrow = 1 + 0x1p-50;    // upper bounds by this

// A sample's bound, from a fresh g_hat: a lower bound on |g| plus the drift
// accumulated so far, ((|g_hat| - errg) + db) + dw * l1(x), stored as a float
// rounded down (-inf when the bound did not decide the sample). The sample
// keeps its assignment while bound > thr + dw' * l1(x), with thr and dw'
// those of a later iteration, rounded up (floats: half the memory traffic,
// four samples per SSE compare).

// float(v) <= v for every double v (-inf, NaN kept; beyond FLT_MAX clamped).
inline float float_below(double v) {
    const double clamped = v < 3.0e38 ? v : 3.0e38;
    return static_cast<float>(clamped * (1 - 0x1p-20)) - 0x1p-126f;
}

// float(v) >= v for every double v >= 0 (beyond FLT_MAX: +inf).
inline float float_above(double v) { return static_cast<float>(v * (1 + 0x1p-20)) + 0x1p-126f; }

// v rounded to float as the hardware converts (beyond the float range: +-inf).
inline float to_float(double v) {
#if defined(__SSE2__)
    return _mm_cvtss_f32(_mm_cvtsd_ss(_mm_setzero_ps(), _mm_set_sd(v)));
#else
    return static_cast<float>(v);
#endif
}

// Evaluates the samples of a word selected by `stale` (pairs of samples at a
// time), refreshing their bounds: in `choice`, bit j becomes 1 if sample
// r0 + j surely goes to c1 and 0 if it surely goes to c0 or is undecided; bit
// j of `unsure` is set when the bound cannot decide.
// t[0] + ... + t[D-1] as a balanced tree (for the error bounds of g_hat the
// order does not matter; a tree keeps the dependency chain short).
template <std::size_t D, class V>
inline V tree_sum(const V* t) {
    static_assert(D >= 1 && D <= 6, "fast path dims");
    if constexpr (D == 1) return t[0];
    if constexpr (D == 2) return t[0] + t[1];
    if constexpr (D == 3) return (t[0] + t[1]) + t[2];
    if constexpr (D == 4) return (t[0] + t[1]) + (t[2] + t[3]);
    if constexpr (D == 5) return ((t[0] + t[1]) + (t[2] + t[3])) + t[4];
    if constexpr (D == 6) return ((t[0] + t[1]) + (t[2] + t[3])) + (t[4] + t[5]);
}

#if defined(__SSE2__)
// g_hat for samples r and r + 1: b - sum_e w2[e] x_e.
template <std::size_t D>
inline __m128d g_hat_pair(const Columns<D>& X, std::size_t r, const __m128d* wv, __m128d bv) {
    __m128d t[D];
    for (std::size_t e = 0; e < D; ++e) t[e] = _mm_mul_pd(wv[e], _mm_loadu_pd(X.c[e] + r));
    return _mm_sub_pd(bv, tree_sum<D>(t));
}
#endif

template <std::size_t D>
inline double g_hat_one(const Columns<D>& X, std::size_t r, const double* w2, double b) {
    double t[D];
    for (std::size_t e = 0; e < D; ++e) t[e] = w2[e] * X.c[e][r];
    return b - tree_sum<D>(t);
}

template <std::size_t D>
void evaluate_word(const Columns<D>& X, const float* l1, std::size_t r0, std::size_t len, const Step<D>& s,
                   float* bound, std::uint64_t stale, std::uint64_t& choice, std::uint64_t& unsure) {
    std::uint64_t hi_bits = 0, sure_bits = 0, done = 0;
    const double lift = s.db - s.errg;  // bound = ((|g_hat| + lift) + dw * l1) rounded down
#if defined(__SSE2__)
    // Pairs (j, j + 1) with j even and j + 1 < len that hold a stale sample;
    // all pairs when most do (a straight loop pipelines better).
    const std::size_t even_len = len & ~std::size_t{1};
    const std::uint64_t full_pairs =
        (even_len == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << even_len) - 1)) & 0x5555555555555555ULL;
    std::uint64_t pairs = (stale | (stale >> 1)) & full_pairs;
    if (pairs) {
        const __m128d bv = _mm_set1_pd(s.b);
        const __m128d tv = _mm_set1_pd(s.T);
        const __m128d liftv = _mm_set1_pd(lift);
        const __m128d dwv = _mm_set1_pd(s.dw);
        const __m128d shrink = _mm_set1_pd(kShrink * (1 - 0x1p-20));
        const __m128d fmax = _mm_set1_pd(3.0e38);
        const __m128d ninf = _mm_set1_pd(-kInf);
        const __m128 fsub = _mm_set1_ps(0x1p-126f);
        const __m128d absmask = _mm_castsi128_pd(_mm_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
        __m128d wv[D];
        for (std::size_t e = 0; e < D; ++e) wv[e] = _mm_set1_pd(s.w2[e]);
        // One pair: its g_hat, bounds and the pair's bits (at bit 0 and 1).
        const auto one_pair = [&](std::size_t r, std::uint64_t& hi2, std::uint64_t& sure2) {
            const __m128d g = g_hat_pair<D>(X, r, wv, bv);
            const __m128d ag = _mm_and_pd(g, absmask);
            const __m128d hi = _mm_cmpgt_pd(g, tv);
            const __m128d sure = _mm_cmpgt_pd(ag, tv);
            const __m128d l1v = _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(l1 + r))));
            const __m128d k = _mm_mul_pd(_mm_min_pd(_mm_add_pd(_mm_add_pd(ag, liftv), _mm_mul_pd(dwv, l1v)), fmax), shrink);
            const __m128 kf = _mm_sub_ps(_mm_cvtpd_ps(_mm_add_pd(k, _mm_andnot_pd(sure, ninf))), fsub);  // -inf where not sure
            _mm_storel_epi64(reinterpret_cast<__m128i*>(bound + r), _mm_castps_si128(kf));
            hi2 = static_cast<std::uint64_t>(_mm_movemask_pd(hi));
            sure2 = static_cast<std::uint64_t>(_mm_movemask_pd(sure));
        };
        std::uint64_t hb = 0, sb = 0;
        if (popcount64(pairs) * 4 >= even_len) {
            for (std::size_t j = 0; j < even_len; j += 2) {
                std::uint64_t h2, s2;
                one_pair(r0 + j, h2, s2);
                hb |= h2 << j;
                sb |= s2 << j;
            }
            done = full_pairs | (full_pairs << 1);
        } else {
            done = pairs | (pairs << 1);
            while (pairs) {
                const std::size_t j = static_cast<std::size_t>(lowest_bit(pairs));
                pairs &= pairs - 1;
                std::uint64_t h2, s2;
                one_pair(r0 + j, h2, s2);
                hb |= h2 << j;
                sb |= s2 << j;
            }
        }
        hi_bits = hb;
        sure_bits = sb;
    }
#endif
    std::uint64_t rest = stale & ~done;
    while (rest) {
        const std::size_t j = static_cast<std::size_t>(lowest_bit(rest));
        rest &= rest - 1;
        const std::size_t r = r0 + j;
        const double g = g_hat_one<D>(X, r, s.w2, s.b);
        const bool hi = g > s.T;
        const bool sure = std::fabs(g) > s.T;
        bound[r] = sure ? float_below(((std::fabs(g) + lift) + s.dw * static_cast<double>(l1[r])) * kShrink)
                        : -std::numeric_limits<float>::infinity();
        hi_bits |= static_cast<std::uint64_t>(hi) << j;
        sure_bits |= static_cast<std::uint64_t>(sure) << j;
        done |= std::uint64_t{1} << j;
    }
    choice = (choice & ~done) | hi_bits;
    unsure = done & ~sure_bits;
}

// The same evaluation in float, four samples per SSE operation, for the
// samples' first look: x, w2 and b rounded to float. Its error bound (errg
// with the float unit roundoff 2^-24, and an absolute 2^-80 for underflow) is
// far larger than the double one, so a sample it cannot decide is evaluated
// again in double (evaluate_word) before the literal computation is used.
// Only used when every magnitude is below 2^60 (no float overflow).
struct FloatStep {
    float w2[kMaxFastDimsF];
    float b = 0, T = 0, errg = 0, db = 0, dw = 0;  // db, dw rounded down; T, errg up
    bool usable = false;
};

template <std::size_t D>
FloatStep float_step(const Step<D>& s, double wm_abs_b, double wmax, double l1max, bool small) {
    FloatStep f;
    if (!small || !(s.T <= DBL_MAX)) return f;
    for (std::size_t e = 0; e < D; ++e) f.w2[e] = static_cast<float>(s.w2[e]);
    f.b = static_cast<float>(s.b);
    const double errg = 2 * (static_cast<double>(D) + 8) * 0x1p-24 * (wm_abs_b + 2 * wmax * l1max) + 0x1p-80;
    f.errg = float_above(errg);
    f.T = float_above(errg + (s.T - s.errg));  // float errg + esq
    f.db = float_below(s.db);
    f.dw = float_below(s.dw);
    f.usable = f.T < 1e37f;
    return f;
}

// Evaluates in float the stale samples of a word (whole quads), refreshing
// their bounds; returns in `done` the samples it decided, in `choice` their
// bits, and leaves the others (in quads it could not decide, or beyond the
// last whole quad) to evaluate_word.
template <std::size_t D>
void evaluate_word_float(const float* const* xf, const float* l1, std::size_t r0, std::size_t len, const FloatStep& f,
                         float* bound, std::uint64_t stale, std::uint64_t& choice, std::uint64_t& done) {
#if defined(__SSE2__)
    const std::size_t whole = len & ~std::size_t{3};
    const std::uint64_t quad_starts =
        (whole == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << whole) - 1)) & 0x1111111111111111ULL;
    std::uint64_t quads = (stale | (stale >> 1) | (stale >> 2) | (stale >> 3)) & quad_starts;
    if (!quads) {
        done = 0;
        return;
    }
    const __m128 bv = _mm_set1_ps(f.b), tv = _mm_set1_ps(f.T), errgv = _mm_set1_ps(f.errg);
    const __m128 dbv = _mm_set1_ps(f.db), dwv = _mm_set1_ps(f.dw), shrink = _mm_set1_ps(1 - 0x1p-20f);
    const __m128 ninf = _mm_set1_ps(-std::numeric_limits<float>::infinity());
    const __m128 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7FFFFFFF));
    __m128 wv[D];
    for (std::size_t e = 0; e < D; ++e) wv[e] = _mm_set1_ps(f.w2[e]);
    std::uint64_t hb = 0, sb = 0, evaluated = 0;
    const auto one_quad = [&](std::size_t j) {
        const std::size_t r = r0 + j;
        __m128 t[D];
        for (std::size_t e = 0; e < D; ++e) t[e] = _mm_mul_ps(wv[e], _mm_loadu_ps(xf[e] + r));
        const __m128 g = _mm_sub_ps(bv, tree_sum<D>(t));
        const __m128 ag = _mm_and_ps(g, absmask);
        const __m128 hi = _mm_cmpgt_ps(g, tv);
        const __m128 sure = _mm_cmpgt_ps(ag, tv);
        // ((|g| - errg) + db) + dw * l1: non-negative terms once |g| > T, so
        // the float roundings stay below 2^-20 of the result.
        const __m128 k = _mm_mul_ps(_mm_add_ps(_mm_add_ps(_mm_sub_ps(ag, errgv), dbv), _mm_mul_ps(dwv, _mm_loadu_ps(l1 + r))),
                                    shrink);
        _mm_storeu_ps(bound + r, _mm_or_ps(_mm_and_ps(sure, k), _mm_andnot_ps(sure, ninf)));
        hb |= static_cast<std::uint64_t>(_mm_movemask_ps(hi)) << j;
        sb |= static_cast<std::uint64_t>(_mm_movemask_ps(sure)) << j;
    };
    if (popcount64(quads) * 2 >= whole / 4) {
        for (std::size_t j = 0; j < whole; j += 4) one_quad(j);
        evaluated = whole == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << whole) - 1);
    } else {
        evaluated = quads * 0xF;
        while (quads) {
            const std::size_t j = static_cast<std::size_t>(lowest_bit(quads));
            quads &= quads - 1;
            one_quad(j);
        }
    }
    done = evaluated & sb;  // decided in float
    choice = (choice & ~done) | (hb & done);
#else
    (void)xf, (void)l1, (void)r0, (void)len, (void)f, (void)bound, (void)stale, (void)choice;
    done = 0;
#endif
}

// Bits of the samples of a word whose bound no longer certifies their
// assignment: not bound > (thr + dw * l1), all floats rounded up (thr and dw
// as given by float_above; the sum's own rounding covered by 1 + 2^-20).
inline std::uint64_t stale_bits(const float* bound, const float* l1, std::size_t r0, std::size_t len, float thr,
                                float dw) {
    std::uint64_t fresh = 0;
    std::size_t j = 0;
    constexpr float grow = 1 + 0x1p-20f;
#if defined(__SSE2__)
    const __m128 tv = _mm_set1_ps(thr);
    const __m128 dwv = _mm_set1_ps(dw);
    const __m128 growv = _mm_set1_ps(grow);
    for (; j + 4 <= len; j += 4) {
        const __m128 need = _mm_mul_ps(_mm_add_ps(tv, _mm_mul_ps(dwv, _mm_loadu_ps(l1 + r0 + j))), growv);
        fresh |= static_cast<std::uint64_t>(_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(bound + r0 + j), need))) << j;
    }
#endif
    for (; j < len; ++j) fresh |= static_cast<std::uint64_t>(bound[r0 + j] > (thr + dw * l1[r0 + j]) * grow) << j;
    const std::uint64_t all = len == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << len) - 1);
    return all & ~fresh;
}


#if defined(PYML_KMEANS_AVX2)
// The constants of one iteration's float first looks, eight lanes each.
template <std::size_t D>
struct OctStep {
    __m256 w[D];
    __m256 b, T, errg, db, dw, shrink, ninf, absmask;
};

template <std::size_t D>
__attribute__((target("avx2"))) inline __m256 tree_sum8(const __m256* t) {
    static_assert(D >= 1 && D <= 6, "fast path dims");
    if constexpr (D == 1) return t[0];
    if constexpr (D == 2) return _mm256_add_ps(t[0], t[1]);
    if constexpr (D == 3) return _mm256_add_ps(_mm256_add_ps(t[0], t[1]), t[2]);
    if constexpr (D == 4) return _mm256_add_ps(_mm256_add_ps(t[0], t[1]), _mm256_add_ps(t[2], t[3]));
    if constexpr (D == 5) {
        return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(t[0], t[1]), _mm256_add_ps(t[2], t[3])), t[4]);
    }
    if constexpr (D == 6) {
        return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(t[0], t[1]), _mm256_add_ps(t[2], t[3])),
                             _mm256_add_ps(t[4], t[5]));
    }
}

// evaluate_word_float's step for samples r .. r + 7: their bounds, and their
// bits at `shift` in hi (goes to c1) and sure (decided).
template <std::size_t D>
__attribute__((target("avx2"))) inline void one_oct(const float* const* x, const float* l1, float* bound,
                                                    std::size_t r, const OctStep<D>& c, std::size_t shift,
                                                    std::uint64_t& hi_bits, std::uint64_t& sure_bits) {
    __m256 t[D];
    for (std::size_t e = 0; e < D; ++e) t[e] = _mm256_mul_ps(c.w[e], _mm256_loadu_ps(x[e] + r));
    const __m256 g = _mm256_sub_ps(c.b, tree_sum8<D>(t));
    const __m256 ag = _mm256_and_ps(g, c.absmask);
    const __m256 hi = _mm256_cmp_ps(g, c.T, _CMP_GT_OQ);
    const __m256 sure = _mm256_cmp_ps(ag, c.T, _CMP_GT_OQ);
    const __m256 k = _mm256_mul_ps(
        _mm256_add_ps(_mm256_add_ps(_mm256_sub_ps(ag, c.errg), c.db), _mm256_mul_ps(c.dw, _mm256_loadu_ps(l1 + r))),
        c.shrink);
    _mm256_storeu_ps(bound + r, _mm256_blendv_ps(c.ninf, k, sure));
    hi_bits |= static_cast<std::uint64_t>(_mm256_movemask_ps(hi)) << shift;
    sure_bits |= static_cast<std::uint64_t>(_mm256_movemask_ps(sure)) << shift;
}

// stale_bits and evaluate_word_float for every word at once, eight samples
// per AVX step: cur[w] gets prev[w] with the samples decided in float
// replaced, rest[w] the stale samples left for evaluate_word (those float
// could not decide and those beyond the word's last whole group of eight).
// The same operations per sample as the SSE2 versions: the same bounds.
template <std::size_t D>
__attribute__((target("avx2"))) void decide_words_float_avx2(const float* const* xf, const float* l1, std::size_t n,
                                                             const FloatStep& f, float* bound, float thr, float dw,
                                                             const std::uint64_t* prev, std::uint64_t* cur,
                                                             std::uint64_t* rest) {
    constexpr float grow = 1 + 0x1p-20f;
    const __m256 thrv = _mm256_set1_ps(thr), dwstale = _mm256_set1_ps(dw), growv = _mm256_set1_ps(grow);
    OctStep<D> c;
    for (std::size_t e = 0; e < D; ++e) c.w[e] = _mm256_set1_ps(f.w2[e]);
    c.b = _mm256_set1_ps(f.b);
    c.T = _mm256_set1_ps(f.T);
    c.errg = _mm256_set1_ps(f.errg);
    c.db = _mm256_set1_ps(f.db);
    c.dw = _mm256_set1_ps(f.dw);
    c.shrink = _mm256_set1_ps(1 - 0x1p-20f);
    c.ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    c.absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const float* x[D];
    for (std::size_t e = 0; e < D; ++e) x[e] = xf[e];
    const std::size_t words = (n + 63) / 64;
    for (std::size_t w = 0; w < words; ++w) {
        const std::size_t r0 = w * 64;
        const std::size_t len = std::min<std::size_t>(64, n - r0);
        const std::size_t whole = len & ~std::size_t{7};
        // Stale samples: not bound > (thr + dw * l1) * grow.
        std::uint64_t fresh = 0;
        std::size_t j = 0;
        for (; j < whole; j += 8) {
            const __m256 need =
                _mm256_mul_ps(_mm256_add_ps(thrv, _mm256_mul_ps(dwstale, _mm256_loadu_ps(l1 + r0 + j))), growv);
            const __m256 ok = _mm256_cmp_ps(_mm256_loadu_ps(bound + r0 + j), need, _CMP_GT_OQ);
            fresh |= static_cast<std::uint64_t>(_mm256_movemask_ps(ok)) << j;
        }
        for (; j < len; ++j) fresh |= static_cast<std::uint64_t>(bound[r0 + j] > (thr + dw * l1[r0 + j]) * grow) << j;
        const std::uint64_t all = len == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << len) - 1);
        const std::uint64_t stale = all & ~fresh;
        const std::uint64_t choice = prev[w];
        if (stale == 0) {
            cur[w] = choice;
            rest[w] = 0;
            continue;
        }
        const std::uint64_t oct_starts =
            (whole == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << whole) - 1)) & 0x0101010101010101ULL;
        std::uint64_t octs = stale | (stale >> 1) | (stale >> 2) | (stale >> 3);
        octs = (octs | (octs >> 4)) & oct_starts;
        std::uint64_t hb = 0, sb = 0, evaluated = 0;
        if (octs != 0) {
            if (popcount64(octs) * 2 >= whole / 8) {
                for (std::size_t jj = 0; jj < whole; jj += 8) one_oct<D>(x, l1, bound, r0 + jj, c, jj, hb, sb);
                evaluated = whole == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << whole) - 1);
            } else {
                evaluated = octs * 0xFF;
                while (octs) {
                    const std::size_t jj = static_cast<std::size_t>(lowest_bit(octs));
                    octs &= octs - 1;
                    one_oct<D>(x, l1, bound, r0 + jj, c, jj, hb, sb);
                }
            }
        }
        const std::uint64_t done = evaluated & sb;
        cur[w] = (choice & ~done) | (hb & done);
        rest[w] = stale & ~done;
    }
}

bool cpu_has_avx2() noexcept {
    __builtin_cpu_init();  // idempotent; needed if called before constructors ran
    return __builtin_cpu_supports("avx2");
}
#else
bool cpu_has_avx2() noexcept { return false; }
#endif

// Whether lloyd2 takes the AVX2 first looks. Throws std::invalid_argument
// for KmeansKernel::avx2 on a processor (or build) without AVX2.
bool wide_kernel(KmeansKernel kernel) {
    static const bool available = cpu_has_avx2();
    if (kernel == KmeansKernel::avx2 && !available) {
        throw std::invalid_argument("kernel = avx2, but this processor (or build) has no AVX2");
    }
    return kernel == KmeansKernel::avx2 || (kernel == KmeansKernel::best && available);
}

// Adds the samples of one word to the two cluster sums in sample order: bit j
// set adds sample r0 + j to s1, else to s0. Runs of equal bits go to one sum
// in a tight loop (consecutive feature rows share most values, so runs tend
// to be long).
template <std::size_t D, bool Reversed>
void accumulate_word(const Rows<D, Reversed>& X, std::size_t r0, std::size_t len, std::uint64_t bits, double* s0,
                     double* s1) {
#if defined(__SSE2__)
    constexpr std::size_t P = (D + 1) / 2;  // lane pairs; an odd D leaves one lane unused
    // Lane l of pair p holds element elem(p, l) (D = unused).
    const auto elem = [](std::size_t p, std::size_t l) -> std::size_t {
        if (2 * p + 1 >= D) return l == 0 ? 2 * p : D;
        return Reversed ? 2 * p + 1 - l : 2 * p + l;
    };
    const auto load = [&X](std::size_t r, std::size_t p) -> __m128d {
        if (2 * p + 1 >= D) return _mm_load_sd(X.at(r, 2 * p));
        return _mm_loadu_pd(Reversed ? X.at(r, 2 * p + 1) : X.at(r, 2 * p));
    };
    __m128d a0[P], a1[P];
    for (std::size_t p = 0; p < P; ++p) {
        const std::size_t e0 = elem(p, 0), e1 = elem(p, 1);
        a0[p] = _mm_set_pd(e1 < D ? s0[e1] : 0.0, s0[e0]);
        a1[p] = _mm_set_pd(e1 < D ? s1[e1] : 0.0, s1[e0]);
    }
    std::size_t j = 0;
    while (j < len) {
        const std::uint64_t rest = bits >> j;
        const bool one = rest & 1;
        const std::uint64_t flips = one ? ~rest : rest;
        const std::size_t end = flips ? std::min(len, j + static_cast<std::size_t>(lowest_bit(flips))) : len;
        if (one) {
            for (std::size_t r = r0 + j; r < r0 + end; ++r)
                for (std::size_t p = 0; p < P; ++p) a1[p] = _mm_add_pd(a1[p], load(r, p));
        } else {
            for (std::size_t r = r0 + j; r < r0 + end; ++r)
                for (std::size_t p = 0; p < P; ++p) a0[p] = _mm_add_pd(a0[p], load(r, p));
        }
        j = end;
    }
    for (std::size_t p = 0; p < P; ++p) {
        double t0[2], t1[2];
        _mm_storeu_pd(t0, a0[p]);
        _mm_storeu_pd(t1, a1[p]);
        for (std::size_t l = 0; l < 2; ++l) {
            const std::size_t e = elem(p, l);
            if (e < D) {
                s0[e] = t0[l];
                s1[e] = t1[l];
            }
        }
    }
#else
    for (std::size_t j = 0; j < len; ++j) {
        double* sum = ((bits >> j) & 1) ? s1 : s0;
        for (std::size_t e = 0; e < D; ++e) sum[e] += *X.at(r0 + j, e);
    }
#endif
}

// Largest |x| over `len` values, whether all are finite and whether none is
// negative; with `fout`, also a float copy of the values (where a value is
// beyond the float range the copy is +-inf: it is only read when every
// magnitude is small, see lloyd2). Independent accumulators keep the loop
// throughput-bound.
void scan_magnitude(const double* p, std::size_t len, float* fout, double& amax, bool& finite, bool& nonneg) {
    double m = 0.0, lo = 0.0;
    bool bad = false;
    std::size_t i = 0;
#if defined(__SSE2__)
    const __m128d absmask = _mm_castsi128_pd(_mm_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
    const __m128d dmax = _mm_set1_pd(DBL_MAX);
    const __m128d zero = _mm_setzero_pd();
    __m128d m0 = zero, m1 = zero, l0 = zero, l1 = zero, b0 = zero, b1 = zero;
    for (; i + 4 <= len; i += 4) {
        const __m128d x0 = _mm_loadu_pd(p + i), x1 = _mm_loadu_pd(p + i + 2);
        const __m128d a0 = _mm_and_pd(x0, absmask), a1 = _mm_and_pd(x1, absmask);
        m0 = _mm_max_pd(m0, a0);
        m1 = _mm_max_pd(m1, a1);
        l0 = _mm_min_pd(l0, x0);
        l1 = _mm_min_pd(l1, x1);
        b0 = _mm_or_pd(b0, _mm_cmpnle_pd(a0, dmax));  // true for inf and NaN
        b1 = _mm_or_pd(b1, _mm_cmpnle_pd(a1, dmax));
        if (fout != nullptr) _mm_storeu_ps(fout + i, _mm_movelh_ps(_mm_cvtpd_ps(x0), _mm_cvtpd_ps(x1)));
    }
    double mt[2], lt[2];
    _mm_storeu_pd(mt, _mm_max_pd(m0, m1));
    _mm_storeu_pd(lt, _mm_min_pd(l0, l1));
    m = std::max(mt[0], mt[1]);
    lo = std::min(lt[0], lt[1]);
    bad = _mm_movemask_pd(_mm_or_pd(b0, b1)) != 0;
#endif
    for (; i < len; ++i) {
        const double a = std::fabs(p[i]);
        m = std::max(m, a);
        lo = std::min(lo, p[i]);
        bad = bad || !(a <= DBL_MAX);
        if (fout != nullptr) fout[i] = to_float(p[i]);
    }
    amax = std::max(amax, m);
    finite = finite && !bad;
    nonneg = nonneg && lo >= 0.0;
}

// acc[r] = |p[r]| (first) or acc[r] + |p[r]| for r < n.
void add_magnitudes(const double* p, std::size_t n, bool first, double* acc) {
    std::size_t r = 0;
#if defined(__SSE2__)
    const __m128d absmask = _mm_castsi128_pd(_mm_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
    for (; r + 2 <= n; r += 2) {
        const __m128d a = _mm_and_pd(_mm_loadu_pd(p + r), absmask);
        _mm_storeu_pd(acc + r, first ? a : _mm_add_pd(_mm_loadu_pd(acc + r), a));
    }
#endif
    for (; r < n; ++r) acc[r] = first ? std::fabs(p[r]) : acc[r] + std::fabs(p[r]);
}

// out[r] >= acc[r] as floats: float_above(acc[r] * (1 + 16 u)).
void l1_bounds(const double* acc, std::size_t n, float* out) {
    constexpr double slack = 1 + 16 * kUnitRoundoff;
    std::size_t r = 0;
#if defined(__SSE2__)
    const __m128d sv = _mm_set1_pd(slack), gv = _mm_set1_pd(1 + 0x1p-20);
    const __m128 tiny = _mm_set1_ps(0x1p-126f);
    for (; r + 4 <= n; r += 4) {
        const __m128 f0 = _mm_cvtpd_ps(_mm_mul_pd(_mm_mul_pd(_mm_loadu_pd(acc + r), sv), gv));
        const __m128 f1 = _mm_cvtpd_ps(_mm_mul_pd(_mm_mul_pd(_mm_loadu_pd(acc + r + 2), sv), gv));
        _mm_storeu_ps(out + r, _mm_add_ps(_mm_movelh_ps(f0, f1), tiny));
    }
#endif
    for (; r < n; ++r) out[r] = float_above(acc[r] * slack);
}

// The preparation of lloyd2, one pass per column: magnitudes (every |x_e| <=
// amax), finiteness, signs; each sample's sum_e |x_e| rounded up to a float
// (l1); float copies of the columns (xf, pointing into fdata).
template <std::size_t D, bool Reversed>
void prepare_samples(const Columns<D>& X, std::size_t n, double* acc, float* l1, float* fdata, const float** xf,
                     double& amax, bool& finite, bool& nonneg) {
    if (Reversed) {
        // Lagged views of one series: X.c[D - 1] is its start, n + D - 1 values.
        scan_magnitude(X.c[D - 1], n + D - 1, fdata, amax, finite, nonneg);
        for (std::size_t e = 0; e < D; ++e) xf[e] = fdata + (D - 1 - e);
    } else {
        for (std::size_t e = 0; e < D; ++e) {
            scan_magnitude(X.c[e], n, fdata + e * n, amax, finite, nonneg);
            xf[e] = fdata + e * n;
        }
    }
    for (std::size_t e = 0; e < D; ++e) add_magnitudes(X.c[e], n, e == 0, acc);
    l1_bounds(acc, n, l1);
}

// The two clusters' sums and how far they may be from dlib's: S[c][e] with
// |S - exact real sum| <= err[c][e], and the centres derived from them with
// |centre - dlib's centre| <= cerr[c][e] (0 when the sums are dlib's own).
template <std::size_t D>
struct ClusterSums {
    double S[2][D] = {};
    double err[2][D] = {};
    double cerr[2][D] = {};
    std::size_t count[2] = {0, 0};
    bool exact = true;
};

// dlib's centre of a cluster from its sum: sum * (1 / count), zero if empty.
template <std::size_t D>
void centres_from_sums(ClusterSums<D>& cs, double* centers, bool nonneg, double amax) {
    constexpr double u = kUnitRoundoff;
    for (std::size_t c = 0; c < 2; ++c) {
        const std::size_t m = cs.count[c];
        const double f = m ? 1.0 / static_cast<double>(m) : 0.0;
        // dlib's sequential sum of m values is within gamma * sum |x| of the
        // real sum; sum |x| is the real sum itself for non-negative data.
        const double gamma = 1.01 * static_cast<double>(m) * u;
        for (std::size_t e = 0; e < D; ++e) {
            const double c_e = m ? cs.S[c][e] * f : 0.0;
            centers[c * D + e] = c_e;
            if (cs.exact || m == 0) {
                cs.cerr[c][e] = 0.0;
            } else {
                const double a = nonneg ? std::fabs(cs.S[c][e]) + cs.err[c][e] : static_cast<double>(m) * amax;
                cs.cerr[c][e] = ((cs.err[c][e] + gamma * a) * f + 2 * u * std::fabs(c_e)) * (1 + 16 * u) + DBL_MIN;
            }
        }
    }
}

// dlib's sums: every sample of the assignment `bits`, in order.
template <std::size_t D, bool Reversed>
void exact_sums(const Rows<D, Reversed>& R, std::size_t n, const std::uint64_t* bits, ClusterSums<D>& cs, bool nonneg,
                double amax) {
    constexpr double u = kUnitRoundoff;
    double s0[D] = {}, s1[D] = {};
    std::size_t ones = 0;
    const std::size_t words = (n + 63) / 64;
    for (std::size_t w = 0; w < words; ++w) {
        const std::size_t r0 = w * 64;
        accumulate_word<D, Reversed>(R, r0, std::min<std::size_t>(64, n - r0), bits[w], s0, s1);
        ones += popcount64(bits[w]);
    }
    cs.count[0] = n - ones;
    cs.count[1] = ones;
    for (std::size_t e = 0; e < D; ++e) {
        cs.S[0][e] = s0[e];
        cs.S[1][e] = s1[e];
    }
    for (std::size_t c = 0; c < 2; ++c) {
        const double gamma = 1.01 * static_cast<double>(cs.count[c]) * u;
        for (std::size_t e = 0; e < D; ++e) {
            const double a = nonneg ? std::fabs(cs.S[c][e]) : static_cast<double>(cs.count[c]) * amax;
            cs.err[c][e] = gamma * a * (1 + 16 * u);
        }
    }
    cs.exact = true;
}

// The sum of every sample, per element, in any order (eight partial sums per
// element): within 1.01 n u * n amax of the real sum.
template <std::size_t D>
void column_totals(const Columns<D>& X, std::size_t n, double* total) {
    for (std::size_t e = 0; e < D; ++e) {
        const double* p = X.c[e];
        double t = 0.0;
        std::size_t r = 0;
#if defined(__SSE2__)
        __m128d a0 = _mm_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        for (; r + 8 <= n; r += 8) {
            a0 = _mm_add_pd(a0, _mm_loadu_pd(p + r));
            a1 = _mm_add_pd(a1, _mm_loadu_pd(p + r + 2));
            a2 = _mm_add_pd(a2, _mm_loadu_pd(p + r + 4));
            a3 = _mm_add_pd(a3, _mm_loadu_pd(p + r + 6));
        }
        double h[2];
        _mm_storeu_pd(h, _mm_add_pd(_mm_add_pd(a0, a1), _mm_add_pd(a2, a3)));
        t = h[0] + h[1];
#endif
        for (; r < n; ++r) t += p[r];
        total[e] = t;
    }
}

// Estimates of the two cluster sums of the assignment `bits`, for the
// iterations before the last: the smaller cluster summed in any order (two
// partial sums per element), the larger one as total - smaller. Error bounds
// from |x_e| <= amax: a sum of m values in any order errs by at most
// 1.01 m u * m amax; the subtraction adds u |result| (relative to the
// rounded result, hence the 1 + 2u).
template <std::size_t D, bool Reversed>
void estimate_sums(const Rows<D, Reversed>& R, std::size_t n, const std::uint64_t* bits, const double* total,
                   double amax, ClusterSums<D>& cs) {
    constexpr double u = kUnitRoundoff;
    const std::size_t words = (n + 63) / 64;
    std::size_t ones = 0;
    for (std::size_t w = 0; w < words; ++w) ones += popcount64(bits[w]);
    const std::size_t small = ones <= n - ones ? 1 : 0;  // the cluster summed directly
    const std::size_t m = small ? ones : n - ones;
    double a0[D] = {}, a1[D] = {};
#if defined(__SSE2__)
    // Pairs of elements per SSE lane pair (the lane layout of accumulate_word),
    // selected samples alternating between two partial sums.
    constexpr std::size_t P = (D + 1) / 2;
    const auto load = [&R](std::size_t r, std::size_t p) -> __m128d {
        if (2 * p + 1 >= D) return _mm_load_sd(R.at(r, 2 * p));
        return _mm_loadu_pd(Reversed ? R.at(r, 2 * p + 1) : R.at(r, 2 * p));
    };
    __m128d v0[P], v1[P];
    for (std::size_t p = 0; p < P; ++p) v0[p] = v1[p] = _mm_setzero_pd();
#endif
    bool odd = false;
    for (std::size_t w = 0; w < words; ++w) {
        const std::size_t r0 = w * 64;
        const std::size_t len = std::min<std::size_t>(64, n - r0);
        const std::uint64_t valid = len == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << len) - 1);
        std::uint64_t sel = (small ? bits[w] : ~bits[w]) & valid;
#if defined(__SSE2__)
        if (odd && sel) {
            const std::size_t r = r0 + static_cast<std::size_t>(lowest_bit(sel));
            sel &= sel - 1;
            for (std::size_t p = 0; p < P; ++p) v1[p] = _mm_add_pd(v1[p], load(r, p));
            odd = false;
        }
        while (sel) {
            const std::size_t r = r0 + static_cast<std::size_t>(lowest_bit(sel));
            sel &= sel - 1;
            for (std::size_t p = 0; p < P; ++p) v0[p] = _mm_add_pd(v0[p], load(r, p));
            if (!sel) {
                odd = true;
                break;
            }
            const std::size_t r2 = r0 + static_cast<std::size_t>(lowest_bit(sel));
            sel &= sel - 1;
            for (std::size_t p = 0; p < P; ++p) v1[p] = _mm_add_pd(v1[p], load(r2, p));
        }
#else
        while (sel) {
            const std::size_t r = r0 + static_cast<std::size_t>(lowest_bit(sel));
            sel &= sel - 1;
            double* a = odd ? a1 : a0;
            for (std::size_t e = 0; e < D; ++e) a[e] += *R.at(r, e);
            odd = !odd;
        }
#endif
    }
#if defined(__SSE2__)
    for (std::size_t p = 0; p < P; ++p) {
        double t0[2], t1[2];
        _mm_storeu_pd(t0, v0[p]);
        _mm_storeu_pd(t1, v1[p]);
        for (std::size_t l = 0; l < 2; ++l) {
            const std::size_t e = 2 * p + 1 >= D ? (l == 0 ? 2 * p : D) : (Reversed ? 2 * p + 1 - l : 2 * p + l);
            if (e < D) {
                a0[e] = t0[l];
                a1[e] = t1[l];
            }
        }
    }
#endif
    const std::size_t big = 1 - small;
    cs.count[small] = m;
    cs.count[big] = n - m;
    const double md = static_cast<double>(m), nd = static_cast<double>(n);
    const double err_small = md == 0 ? 0.0 : 1.01 * md * u * (md * amax) * (1 + 16 * u);
    const double err_total = 1.01 * nd * u * (nd * amax) * (1 + 16 * u);
    for (std::size_t e = 0; e < D; ++e) {
        cs.S[small][e] = a0[e] + a1[e];
        cs.err[small][e] = err_small;
        cs.S[big][e] = total[e] - cs.S[small][e];
        cs.err[big][e] = ((err_total + err_small) + u * std::fabs(cs.S[big][e]) * (1 + 2 * u)) * (1 + 16 * u);
    }
    cs.exact = false;
}

// Moves the samples whose bit differs between `before` and `after` from one
// sum to the other (not dlib's order: the sums become estimates). Each of the
// m additions or subtractions on a sum errs by at most u times the sum's
// magnitude at that point, itself at most |S before| + sum |x moved|; the
// error bounds grow by m u (|S before| + sum |x moved|).
template <std::size_t D, bool Reversed>
void move_samples(const Rows<D, Reversed>& R, std::size_t n, const std::uint64_t* before, const std::uint64_t* after,
                  ClusterSums<D>& cs) {
    constexpr double u = kUnitRoundoff;
    double start[2][D], moved_abs[D] = {};
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t e = 0; e < D; ++e) start[c][e] = std::fabs(cs.S[c][e]);
    std::size_t ops = 0;
    const std::size_t words = (n + 63) / 64;
    for (std::size_t w = 0; w < words; ++w) {
        std::uint64_t moved = before[w] ^ after[w];
        while (moved) {
            const int j = lowest_bit(moved);
            moved &= moved - 1;
            const std::size_t r = w * 64 + static_cast<std::size_t>(j);
            const std::size_t to = (after[w] >> j) & 1, from = 1 - to;
            for (std::size_t e = 0; e < D; ++e) {
                const double x = *R.at(r, e);
                cs.S[from][e] -= x;
                cs.S[to][e] += x;
                moved_abs[e] += std::fabs(x);
            }
            --cs.count[from];
            ++cs.count[to];
            ++ops;
        }
    }
    const double m = static_cast<double>(ops);
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t e = 0; e < D; ++e)
            cs.err[c][e] = (cs.err[c][e] + m * u * (start[c][e] + moved_abs[e] * (1 + m * u))) * (1 + 16 * u);
    cs.exact = false;
}

// How far g(x) = |c0 - x|^2 - |c1 - x|^2 can move when the centres move from
// (p0, p1) to (c0, c1): by at most |dB| + 2 max_e |dw_e| sum_e |x_e|, B and w
// as in Step. Adds twice the two parts, each estimate's rounding included,
// rounded up, to db and dw.
template <std::size_t D>
void drift_step(const double* p0, const double* p1, const double* c0, const double* c1, double& db, double& dw_sum) {
    constexpr double u = kUnitRoundoff;
    double bp = 0.0, bc = 0.0, wmp = 0.0, wmc = 0.0, dw = 0.0;
    for (std::size_t e = 0; e < D; ++e) {
        const double wp = p0[e] - p1[e], mp = p0[e] + p1[e];
        const double wc = c0[e] - c1[e], mc = c0[e] + c1[e];
        bp += wp * mp;
        bc += wc * mc;
        wmp += std::fabs(wp * mp);
        wmc += std::fabs(wc * mc);
        dw = std::max(dw, std::fabs(c0[e] - p0[e]) + std::fabs(c1[e] - p1[e]));
    }
    const double errb = (static_cast<double>(D) + 3) * u * (wmp + wmc);
    db = (db + (2 * (std::fabs(bc - bp) + errb) * (1 + 16 * u) + DBL_MIN)) * kGrow;
    dw_sum = (dw_sum + 4 * dw * (1 + 16 * u)) * kGrow;
}

template <std::size_t D, bool Reversed>
std::size_t lloyd2(const Columns<D>& X, const Rows<D, Reversed>& R, std::size_t n, std::size_t max_iterations,
                   double* centers, KmeansWorkspace& ws) {
    constexpr double u = kUnitRoundoff;
    constexpr double dd = static_cast<double>(D);
    const bool wide = wide_kernel(ws.kernel);
    // Assignments as bits (1 = second centre), 64 samples a word: `prev` made
    // the current centres, `cur` is being decided.
    const std::size_t words = (n + 63) / 64;
    ws.bits.assign(3 * words, 0);
    std::uint64_t* prev = ws.bits.data();
    std::uint64_t* cur = prev + words;
    std::uint64_t* unsure_words = cur + words;
    // Each sample's bound and l1 (floats); float copies of the columns for
    // first looks; magnitudes for the bounds: every |x_e| <= amax, so
    // |x|^2 <= D amax^2 and sum_e |x_e| <= D amax.
    const std::size_t span = Reversed ? n + D - 1 : D * n;
    ws.bound.resize(2 * n + span);
    float* bound = ws.bound.data();
    std::fill(bound, bound + n, -std::numeric_limits<float>::infinity());
    float* l1 = bound + n;
    float* fdata = l1 + n;
    const float* xf[D];
    ws.l1.resize(n);
    double amax = 0.0;
    bool finite = true, nonneg = true;
    prepare_samples<D, Reversed>(X, n, ws.l1.data(), l1, fdata, xf, amax, finite, nonneg);
    const double l1max = dd * amax;
    const double qmax = dd * amax * amax;
    const bool small = finite && amax < 0x1p60;
    double* c0 = centers;
    double* c1 = centers + D;
    ClusterSums<D> sums;  // the initial centres are samples: exact
    double totals[D];  // every sample's sum, for estimate_sums
    bool totals_known = false;
    double p0[D], p1[D];
    double db = 0.0, dw = 0.0;  // drift so far: db + dw * l1(x)
    Step<D> s;
    std::size_t iter = 0;
    bool first = true;
    while (iter < max_iterations) {
        ++iter;

        // g_hat = b - sum w2_e x_e estimates g for the current centres within
        // errg = (2D + 3) u (wm + 2 wmax l1max); dlib's s0, s1 err by
        // <= (D + 3) u each, relative, and sum to at most 2 cc + 4 qmax; a 4u
        // gap keeps their square roots apart (esq); the current centres may
        // differ from dlib's by cerr, moving g by at most eg. Every bound is
        // twice what the analysis needs.
        double b = 0.0, wm = 0.0, wmax = 0.0, cc = 0.0, ce = 0.0, e0 = 0.0, e1 = 0.0, esq2 = 0.0;
        for (std::size_t e = 0; e < D; ++e) {
            const double w = c0[e] - c1[e];
            const double m = c0[e] + c1[e];
            s.w2[e] = 2 * w;
            b += w * m;
            wm += std::fabs(w * m);
            wmax = std::max(wmax, std::fabs(w));
            cc += c0[e] * c0[e] + c1[e] * c1[e];
            ce += std::fabs(c0[e]) * sums.cerr[0][e] + std::fabs(c1[e]) * sums.cerr[1][e];
            e0 = std::max(e0, sums.cerr[0][e]);
            e1 = std::max(e1, sums.cerr[1][e]);
            esq2 += sums.cerr[0][e] * sums.cerr[0][e] + sums.cerr[1][e] * sums.cerr[1][e];
        }
        const double eg = sums.exact ? 0.0 : 2 * (2 * ce + 2 * (e0 + e1) * l1max + esq2) * (1 + 16 * u) + DBL_MIN;
        s.b = b;
        s.errg = 2 * (2 * dd + 3) * u * (wm + 2 * wmax * l1max);
        s.esq = 2 * (dd + 7) * u * (2 * cc + 4 * qmax) + DBL_MIN + eg;
        s.T = s.errg + s.esq;
        if (!first) drift_step<D>(p0, p1, c0, c1, db, dw);
        for (std::size_t e = 0; e < D; ++e) {
            p0[e] = c0[e];
            p1[e] = c1[e];
        }
        s.db = db;
        s.dw = dw;
        s.thr = (s.esq + db) * kGrow;
        if (!finite || !(s.T <= DBL_MAX) || !(s.thr <= DBL_MAX) || !(s.dw * l1max <= DBL_MAX)) s.T = s.thr = kNaN;

        const float thr_f = float_above(s.thr), dw_f = float_above(s.dw);
        double cmax = 0.0;
        for (std::size_t e = 0; e < D; ++e) cmax = std::max(cmax, std::max(std::fabs(c0[e]), std::fabs(c1[e])));
        const FloatStep fs = float_step<D>(s, wm + std::fabs(b), wmax, l1max, small && cmax < 0x1p60);
        // Identical centres (dlib's own): both distances are the same number,
        // so dlib keeps centre 0 for every sample (lowest index).
        bool identical = sums.exact;
        for (std::size_t e = 0; e < D; ++e) identical = identical && std::memcmp(&c0[e], &c1[e], sizeof(double)) == 0;
        if (identical) {
            std::fill(cur, cur + words, std::uint64_t{0});
            std::fill(bound, bound + n, -std::numeric_limits<float>::infinity());
        }
        // Decide every word: samples whose bound still certifies them keep
        // their assignment; the others are evaluated; undecided ones wait.
        bool any_unsure = false;
#if defined(PYML_KMEANS_AVX2)
        if (wide && fs.usable && !identical) {
            decide_words_float_avx2<D>(xf, l1, n, fs, bound, thr_f, dw_f, prev, cur, unsure_words);
            for (std::size_t w = 0; w < words; ++w) {
                const std::uint64_t rest = unsure_words[w];
                std::uint64_t unsure = 0;
                if (rest != 0) {
                    const std::size_t r0 = w * 64;
                    evaluate_word<D>(X, l1, r0, std::min<std::size_t>(64, n - r0), s, bound, rest, cur[w], unsure);
                }
                unsure_words[w] = unsure;
                any_unsure |= unsure != 0;
            }
        }
#endif
        for (std::size_t w = 0; w < words && !identical && !(wide && fs.usable); ++w) {
            const std::size_t r0 = w * 64;
            const std::size_t len = std::min<std::size_t>(64, n - r0);
            const std::uint64_t stale = stale_bits(bound, l1, r0, len, thr_f, dw_f);
            std::uint64_t choice = prev[w], unsure = 0;
            if (stale != 0) {
                std::uint64_t rest = stale;
                if (fs.usable) {
                    std::uint64_t decided = 0;
                    evaluate_word_float<D>(xf, l1, r0, len, fs, bound, stale, choice, decided);
                    rest &= ~decided;
                }
                if (rest != 0) evaluate_word<D>(X, l1, r0, len, s, bound, rest, choice, unsure);
            }
            cur[w] = choice;
            unsure_words[w] = unsure;
            any_unsure |= unsure != 0;
        }
        if (identical) std::fill(unsure_words, unsure_words + words, std::uint64_t{0});
        if (any_unsure) {
            // The literal decision needs dlib's exact centres of this iteration.
            if (!sums.exact) {
                exact_sums<D, Reversed>(R, n, prev, sums, nonneg, amax);
                centres_from_sums<D>(sums, centers, nonneg, amax);
                drift_step<D>(p0, p1, c0, c1, db, dw);
                for (std::size_t e = 0; e < D; ++e) {
                    p0[e] = c0[e];
                    p1[e] = c1[e];
                }
            }
            for (std::size_t w = 0; w < words; ++w) {
                if (unsure_words[w] == 0) continue;
                exact_choices<D>(X, w * 64, std::min<std::size_t>(64, n - w * 64), c0, c1, unsure_words[w], cur[w]);
            }
        }

        std::size_t moved = 0;
        for (std::size_t w = 0; w < words; ++w) moved += popcount64(prev[w] ^ cur[w]);
        if (!first && moved == 0) break;  // same assignment: the centres would not change

        // Centres for the next iteration: dlib's sums when much moved (and
        // always after the first pass), otherwise the previous sums with the
        // moved samples transferred, as estimates with error bounds.
        if (first || moved * 16 > n) {
            if (!totals_known) {
                column_totals<D>(X, n, totals);
                totals_known = true;
            }
            estimate_sums<D, Reversed>(R, n, cur, totals, amax, sums);
        } else {
            move_samples<D, Reversed>(R, n, prev, cur, sums);
        }
        centres_from_sums<D>(sums, centers, nonneg, amax);
        std::swap(prev, cur);
        first = false;
    }
    // The result is dlib's centres of the last assignment.
    if (!sums.exact) {
        exact_sums<D, Reversed>(R, n, prev, sums, nonneg, amax);
        centres_from_sums<D>(sums, centers, nonneg, amax);
    }
    return iter;
}

// `rows`: a row-major copy of the samples, or null when the columns are
// lagged views (columns[e] == columns[0] - e).
template <std::size_t D>
std::size_t kmeans2(const double* const* columns, const double* rows, std::size_t n, std::size_t max_iterations,
                    double* centers, bool pick, KmeansWorkspace& ws) {
    Columns<D> X;
    for (std::size_t e = 0; e < D; ++e) X.c[e] = columns[e];
    if (pick) pick2<D>(X, n, centers, ws);
    if (rows == nullptr) return lloyd2<D, true>(X, Rows<D, true>{columns[0]}, n, max_iterations, centers, ws);
    return lloyd2<D, false>(X, Rows<D, false>{rows}, n, max_iterations, centers, ws);
}

using Kmeans2Fn = std::size_t (*)(const double* const*, const double*, std::size_t, std::size_t, double*, bool,
                                  KmeansWorkspace&);
constexpr Kmeans2Fn kKmeans2[kMaxFastDims + 1] = {nullptr,    &kmeans2<1>, &kmeans2<2>, &kmeans2<3>,
                                                  &kmeans2<4>, &kmeans2<5>, &kmeans2<6>};

template <std::size_t D>
void pick2_columns(const double* const* columns, std::size_t n, double* centers, KmeansWorkspace& ws) {
    Columns<D> X;
    for (std::size_t e = 0; e < D; ++e) X.c[e] = columns[e];
    pick2<D>(X, n, centers, ws);
}

using Pick2Fn = void (*)(const double* const*, std::size_t, double*, KmeansWorkspace&);
constexpr Pick2Fn kPick2[kMaxFastDims + 1] = {nullptr,          &pick2_columns<1>, &pick2_columns<2>,
                                              &pick2_columns<3>, &pick2_columns<4>, &pick2_columns<5>,
                                              &pick2_columns<6>};

bool lagged(const double* const* columns, std::size_t dims) {
    for (std::size_t e = 1; e < dims; ++e)
        if (columns[e] != columns[0] - e) return false;
    return true;
}

// Column pointers into a transposed copy of row-major X: two rows at a time,
// each pair of elements of one row going to two columns.
template <std::size_t D>
void transpose_fixed(const double* X, std::size_t n, double* out) {
    std::size_t r = 0;
#if defined(__SSE2__)
    for (; r + 2 <= n; r += 2) {
        const double* a = X + r * D;
        const double* b = a + D;
        for (std::size_t e = 0; e + 2 <= D; e += 2) {
            const __m128d pa = _mm_loadu_pd(a + e), pb = _mm_loadu_pd(b + e);
            _mm_storeu_pd(out + e * n + r, _mm_unpacklo_pd(pa, pb));
            _mm_storeu_pd(out + (e + 1) * n + r, _mm_unpackhi_pd(pa, pb));
        }
        if (D % 2 == 1) {
            out[(D - 1) * n + r] = a[D - 1];
            out[(D - 1) * n + r + 1] = b[D - 1];
        }
    }
#endif
    for (; r < n; ++r)
        for (std::size_t e = 0; e < D; ++e) out[e * n + r] = X[r * D + e];
}

using TransposeFn = void (*)(const double*, std::size_t, double*);
constexpr TransposeFn kTranspose[kMaxFastDims + 1] = {nullptr,
                                                      &transpose_fixed<1>,
                                                      &transpose_fixed<2>,
                                                      &transpose_fixed<3>,
                                                      &transpose_fixed<4>,
                                                      &transpose_fixed<5>,
                                                      &transpose_fixed<6>};

void transpose(const double* X, std::size_t n, std::size_t dims, KmeansWorkspace& ws) {
    ws.rows.resize(n * dims);
    ws.columns.resize(dims);
    double* out = ws.rows.data();
    for (std::size_t e = 0; e < dims; ++e) ws.columns[e] = out + e * n;
    if (dims <= kMaxFastDims) {
        kTranspose[dims](X, n, out);
        return;
    }
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t e = 0; e < dims; ++e) out[e * n + r] = X[r * dims + e];
}

// The calling thread's workspace for the entry points that take none: kept
// between calls (no allocation for repeated trainings of similar size), and
// given back after a call that grew it beyond kKeepBytes.
constexpr std::size_t kKeepBytes = std::size_t{1} << 22;

KmeansWorkspace& thread_workspace() {
    thread_local KmeansWorkspace ws;
    return ws;
}

std::size_t workspace_bytes(const KmeansWorkspace& ws) {
    return (ws.dist.capacity() + ws.select.capacity() + ws.rows.capacity() + ws.l1.capacity() +
            ws.gathered.capacity()) * sizeof(double) +
           ws.bound.capacity() * sizeof(float) + ws.bits.capacity() * sizeof(std::uint64_t) +
           ws.records.capacity() * sizeof(ScoreRecord) + ws.columns.capacity() * sizeof(const double*);
}

// Releases the thread's workspace when it is large (also when the call threw).
class ThreadWorkspace {
public:
    ThreadWorkspace() : ws_(thread_workspace()) {}
    ~ThreadWorkspace() {
        if (workspace_bytes(ws_) > kKeepBytes) ws_ = KmeansWorkspace{};
    }
    ThreadWorkspace(const ThreadWorkspace&) = delete;
    ThreadWorkspace& operator=(const ThreadWorkspace&) = delete;
    KmeansWorkspace& get() { return ws_; }

private:
    KmeansWorkspace& ws_;
};

}  // namespace

// ------------------------------------------------------------------ public

bool kmeans_avx2_available() noexcept { return cpu_has_avx2(); }

long detail::sorted_record_index(std::vector<ScoreRecord>& records, std::size_t rank) {
    if (rank >= records.size()) {
        throw std::out_of_range("rank " + std::to_string(rank) + " is beyond " + std::to_string(records.size()) +
                                " records");
    }
    ScoreRecord* const base = records.data();
    ScoreRecord* first = base;
    ScoreRecord* last = base + records.size();
    ScoreRecord* const target = base + rank;
    long depth = 0;
    for (std::size_t m = records.size(); m > 1; m >>= 1) ++depth;  // floor(log2 n)
    depth *= 2;
    while (last - first > 16) {
        if (depth == 0) {
            sort_path::heap_sort(first, last);
            return target->idx;
        }
        --depth;
        sort_path::move_median_to_first(first, first + 1, first + (last - first) / 2, last - 1);
        ScoreRecord* cut = sort_path::unguarded_partition(first + 1, last, first);
        if (target >= cut) {
            first = cut;
        } else {
            last = cut;
        }
    }
    sort_path::insertion_sort(first, last);
    return target->idx;
}

std::size_t initial_center_rank(std::size_t n) noexcept {
    const double nd = static_cast<double>(n);
    return static_cast<std::size_t>(static_cast<long>(std::max(0.0, nd - nd * 0.01 - 1)));
}

void pick_initial_centers_reference(const double* X, std::size_t n, std::size_t dims, std::size_t k,
                                    double* centers) {
    check_pick(n, dims, k);
    std::copy(X, X + dims, centers);
    if (k == 1) return;
    const std::size_t rank = initial_center_rank(n);
    std::vector<ScoreRecord> scores(n, ScoreRecord{0, kInf}), sorted;
    for (std::size_t i = 0; i + 1 < k; ++i) {
        const double* c = centers + i * dims;
        const double kcc = dot(c, c, dims);
        for (std::size_t s = 0; s < n; ++s) {
            const double* x = X + s * dims;
            const double dist = (kcc + dot(x, x, dims)) - 2 * dot(x, c, dims);
            if (dist < scores[s].dist) {
                scores[s].dist = dist;
                scores[s].idx = static_cast<long>(s);
            }
        }
        sorted = scores;
        std::sort(sorted.begin(), sorted.end());
        const double* chosen = X + static_cast<std::size_t>(sorted[rank].idx) * dims;
        std::copy(chosen, chosen + dims, centers + (i + 1) * dims);
    }
}

std::size_t find_clusters_reference(const double* X, std::size_t n, std::size_t dims, std::size_t k,
                                    std::size_t max_iterations, double* centers) {
    check_lloyd(n, dims, k, max_iterations);
    return lloyd_generic(X, n, dims, k, max_iterations, centers);
}

void pick_initial_centers(const double* X, std::size_t n, std::size_t dims, std::size_t k, double* centers) {
    check_pick(n, dims, k);
    if (k != 2 || dims > kMaxFastDims) {
        pick_generic(X, n, dims, k, centers);
        return;
    }
    ThreadWorkspace scope;
    KmeansWorkspace& ws = scope.get();
    transpose(X, n, dims, ws);
    kPick2[dims](ws.columns.data(), n, centers, ws);
}

std::size_t find_clusters(const double* X, std::size_t n, std::size_t dims, std::size_t k,
                          std::size_t max_iterations, double* centers) {
    check_lloyd(n, dims, k, max_iterations);
    if (k != 2 || dims > kMaxFastDims) return lloyd_generic(X, n, dims, k, max_iterations, centers);
    ThreadWorkspace scope;
    KmeansWorkspace& ws = scope.get();
    transpose(X, n, dims, ws);
    return kKmeans2[dims](ws.columns.data(), X, n, max_iterations, centers, false, ws);
}

std::size_t kmeans(const double* X, std::size_t n, std::size_t dims, std::size_t k, std::size_t max_iterations,
                   double* centers) {
    check_pick(n, dims, k);
    check_lloyd(n, dims, k, max_iterations);
    if (k != 2 || dims > kMaxFastDims) {
        pick_generic(X, n, dims, k, centers);
        return lloyd_generic(X, n, dims, k, max_iterations, centers);
    }
    ThreadWorkspace scope;
    KmeansWorkspace& ws = scope.get();
    transpose(X, n, dims, ws);
    return kKmeans2[dims](ws.columns.data(), X, n, max_iterations, centers, true, ws);
}

std::size_t kmeans_columns(const double* const* columns, std::size_t n, std::size_t dims, std::size_t k,
                           std::size_t max_iterations, double* centers) {
    ThreadWorkspace scope;
    return kmeans_columns(columns, n, dims, k, max_iterations, centers, scope.get());
}

std::size_t kmeans_columns(const double* const* columns, std::size_t n, std::size_t dims, std::size_t k,
                           std::size_t max_iterations, double* centers, KmeansWorkspace& ws) {
    check_pick(n, dims, k);
    check_lloyd(n, dims, k, max_iterations);
    const bool fast = k == 2 && dims <= kMaxFastDims;
    if (fast && lagged(columns, dims)) return kKmeans2[dims](columns, nullptr, n, max_iterations, centers, true, ws);
    std::vector<double>& rows = ws.gathered;
    rows.resize(n * dims);
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t e = 0; e < dims; ++e) rows[r * dims + e] = columns[e][r];
    if (fast) return kKmeans2[dims](columns, rows.data(), n, max_iterations, centers, true, ws);
    pick_generic(rows.data(), n, dims, k, centers);
    return lloyd_generic(rows.data(), n, dims, k, max_iterations, centers);
}

}  // namespace pyml
