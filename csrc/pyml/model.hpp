// A per-metric model (k centres plus the range of training distances), its
// anomaly score, serialisation, and training from a raw history.
#pragma once

#include <cfloat>
#include <cstddef>
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

struct TrainParams {
    FeatureParams features;
    std::size_t max_iterations = 1000;
    std::size_t k = 2;
};

// Throws std::invalid_argument naming the value for bad feature parameters,
// max_iterations < 1 or k < 1.
void validate_train_params(const TrainParams& p);

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
    std::vector<double> features;
    std::vector<const double*> columns;
    KmeansWorkspace kmeans;
};
Model train_model(const double* series, std::size_t n, const TrainParams& p, TrainScratch& scratch);

}  // namespace pyml
