// dlib-style k-means (dlib v19.10 `pick_initial_centers` with a linear kernel
// and percentile 0.01, then `find_clusters_using_kmeans`), reproduced bit for
// bit: same summation orders, reciprocal-multiply means, sqrt of the
// sequential sum of squares, lowest index among distance ties, libstdc++
// std::sort tie order for the initial pick, and an empty cluster's centre
// becoming the zero vector.
//
// All arrays are row-major: X is n rows of `dims` doubles, centers is k rows.
// k = 2 with dims <= 6 (every configuration of the reference) takes a fast
// path whose results are identical to the literal transcription
// (`*_reference` below); other shapes run the literal algorithm. The fast
// path (kmeans.cpp explains its arguments) prepares the samples once per
// coordinate, decides most assignments from a float evaluation with a
// rigorous error bound (SSE2 or, chosen at run time, AVX2), skips samples
// whose bound still holds after the centres moved, estimates the cluster
// sums with error bounds until the assignment is final, and computes dlib's
// exact distances and sums only where they decide something. Its buffers
// live in a KmeansWorkspace: the caller's, or one kept per thread by the
// entry points that take none (given back when a call grew it beyond 4 MiB).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pyml {

namespace detail {
// The record dlib sorts to pick the second centre: 16 bytes, ordered by dist
// only. Sorting this exact type with libstdc++'s std::sort reproduces dlib's
// order among equal distances.
struct ScoreRecord {
    long idx;
    double dist;
    bool operator<(const ScoreRecord& other) const { return dist < other.dist; }
};

// The idx of the record that libstdc++'s std::sort would place at position
// `rank` (records are reordered on the way; no NaN dist). Costs a selection,
// not a sort. Throws std::out_of_range if rank >= records.size().
long sorted_record_index(std::vector<ScoreRecord>& records, std::size_t rank);
}  // namespace detail

// The build of the fast path's first looks in float (x86-64): the baseline
// (SSE2, four samples per instruction) or AVX2 (eight). They only decide which
// samples need a closer look, so both give identical results. `best` takes
// AVX2 when the processor has it; the others are for tests and measurements.
enum class KmeansKernel { best, baseline, avx2 };

// Whether this processor (and build) can run KmeansKernel::avx2.
bool kmeans_avx2_available() noexcept;

// Buffers of the fast path, reusable across calls (one per thread) so that
// training many models does not allocate; and the kernel to use.
struct KmeansWorkspace {
    KmeansKernel kernel = KmeansKernel::best;  // KmeansKernel::avx2 without AVX2: std::invalid_argument
    std::vector<double> dist, select, rows;
    std::vector<double> l1;        // per sample: sum of the magnitudes of its elements
    std::vector<double> gathered;  // kmeans_columns: row-major copy of columns that are not lagged views
    std::vector<float> bound;
    std::vector<std::uint64_t> bits;
    std::vector<detail::ScoreRecord> records;
    std::vector<const double*> columns;
};

// Row index of the second initial centre's rank: (long) max(0, n - n*0.01 - 1),
// computed in double exactly as dlib does.
std::size_t initial_center_rank(std::size_t n) noexcept;

// Writes k initial centres (k * dims doubles). Centre 0 is X[0]; centre i+1 is
// the sample at rank initial_center_rank(n) when samples are sorted (libstdc++
// std::sort of {idx, dist} records by dist) by their squared kernel distance
// to the most recent centre (the smallest such distance so far).
// Throws std::invalid_argument if n == 0, dims == 0, k == 0 or k > n.
void pick_initial_centers(const double* X, std::size_t n, std::size_t dims, std::size_t k, double* centers);

// Lloyd iterations from the given centres (k * dims doubles, updated in place)
// until no assignment changes or max_iterations iterations ran. Returns the
// number of iterations run.
// Throws std::invalid_argument if n == 0, dims == 0, k == 0 or
// max_iterations == 0 (nothing is modified then).
std::size_t find_clusters(const double* X, std::size_t n, std::size_t dims, std::size_t k,
                          std::size_t max_iterations, double* centers);

// pick_initial_centers followed by find_clusters; returns the iterations run.
// Throws as both do, before writing anything.
std::size_t kmeans(const double* X, std::size_t n, std::size_t dims, std::size_t k, std::size_t max_iterations,
                   double* centers);

// As kmeans, reading sample r's element e from columns[e][r]. When the columns
// are lagged views of one series (columns[e] == columns[0] - e, as feature
// columns are) nothing is copied.
std::size_t kmeans_columns(const double* const* columns, std::size_t n, std::size_t dims, std::size_t k,
                           std::size_t max_iterations, double* centers);
std::size_t kmeans_columns(const double* const* columns, std::size_t n, std::size_t dims, std::size_t k,
                           std::size_t max_iterations, double* centers, KmeansWorkspace& workspace);

// Literal transcriptions of the two dlib functions (full std::sort, plain
// loops): the oracle the fast paths are tested against.
void pick_initial_centers_reference(const double* X, std::size_t n, std::size_t dims, std::size_t k,
                                    double* centers);
std::size_t find_clusters_reference(const double* X, std::size_t n, std::size_t dims, std::size_t k,
                                    std::size_t max_iterations, double* centers);

}  // namespace pyml
