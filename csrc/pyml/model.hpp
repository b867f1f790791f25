// A per-metric model (k centres plus the range of training distances), its
// anomaly score, serialisation, and training from a raw history.
//
// Training: features of the gap-filled series (v1 or v2, features.hpp), then
// optionally Netdata 2.x's sub-sampling of those vectors (max_vectors > 0,
// sampling.hpp), k-means on the vectors used (kmeans.hpp) and the range of
// their mean distance to the centres. Without sub-sampling and with v1
// features this is Netdata v1.33's training, bit for bit.
#pragma once

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pyml/features.hpp"
#include "pyml/kmeans.hpp"

namespace pyml {

struct Model {
    std::size_t k = 2, dims = 6;
    std::vector<double> centers;  // k * dims, row-major
    double min_dist = DBL_MAX;    // smallest mean distance of a training vector
    double max_dist = DBL_MIN;    // largest one (DBL_MIN, the tiny positive, as start)

    // Mean Euclidean distance of x (dims doubles) to the centres: distances
    // summed from 0.0 in centre order, then divided by k.
    double distance(const double* x) const noexcept;

    // Anomaly score in [0, 100]: 0 if max_dist == min_dist, else
    // min(100, 100 * |(distance(x) - min_dist) / (max_dist - min_dist)|).
    double score(const double* x) const noexcept;

    // Versioned little-endian binary form with a magic header.
    std::string to_bytes() const;

    // Inverse of to_bytes; throws std::invalid_argument on bad, foreign or
    // truncated bytes (and on trailing bytes).
    static Model from_bytes(const std::string& bytes);
};

// std::mt19937's default seed, the default of the sampling table.
inline constexpr std::uint32_t kDefaultSamplingSeed = 5489;

struct TrainParams {
    FeatureParams features;
    std::size_t max_iterations = 1000;
    std::size_t k = 2;
    FeatureVariant variant = FeatureVariant::v1;
    std::size_t max_vectors = 0;                 // 0: every vector; else sub-sample to about this many
    std::uint32_t seed = kDefaultSamplingSeed;  // of the sampling table (max_vectors > 0)
};

// Throws std::invalid_argument naming the value for bad feature parameters,
// max_iterations < 1, k < 1 or max_vectors outside {0} u [2, kMaxTrainingVectors].
void validate_train_params(const TrainParams& p);

// Whether no value of x[0..n) is inf or NaN.
bool all_finite(const double* x, std::size_t n) noexcept;

// Gap handling of a raw history (NaN = missing point): leading NaNs are
// dropped, later NaNs take the previous value (forward fill). Writes the
// filled series to `out` (resized) and returns how many points existed
// (were not NaN). Throws std::invalid_argument naming the index and value for
// +-inf (then `out` is unchanged).
std::size_t fill_gaps(const double* history, std::size_t n, std::vector<double>& out);

// Trains on a gap-filled (finite) series: features, k-means, distance range.
// Throws std::invalid_argument if the parameters are bad, the series is too
// short for one feature row, there are fewer feature rows than k, or a value
// is not finite.
Model train_model(const double* series, std::size_t n, const TrainParams& p);

// As train_model, with caller-provided scratch that is reused across calls
// (grown as needed), so repeated training does not allocate.
struct TrainScratch {
    std::vector<double> features;  // the smoothed series
    std::vector<double> kept;      // the sub-sampled (or v2) vectors, column-major
    std::vector<const double*> columns;
    std::vector<std::uint32_t> table;  // sampling table for (table_m, table_seed)
    std::vector<std::uint32_t> offsets;  // the table's kept offsets (sampling.hpp, kept_offsets)
    std::size_t table_m = 0;
    std::uint32_t table_seed = 0;
    KmeansWorkspace kmeans;
};
Model train_model(const double* series, std::size_t n, const TrainParams& p, TrainScratch& scratch);

// How many vectors a training on n gap-filled values would use: the feature
// rows, or those the sub-sampling keeps. (Validates p.)
std::size_t training_vector_count(std::size_t n, const TrainParams& p, TrainScratch& scratch);

// The sampling table of p in scratch (computed once per (max_vectors, seed)).
const std::vector<std::uint32_t>& sampling_table_of(const TrainParams& p, TrainScratch& scratch);

}  // namespace pyml
