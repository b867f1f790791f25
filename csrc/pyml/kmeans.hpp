// dlib-style k-means (dlib v19.10 `pick_initial_centers` with a linear kernel
// and percentile 0.01, then `find_clusters_using_kmeans`), reproduced bit for
// bit: same summation orders, reciprocal-multiply means, sqrt of the
// sequential sum of squares, lowest index among distance ties, libstdc++
// std::sort tie order for the initial pick, and an empty cluster's centre
// becoming the zero vector.
//
// All arrays are row-major: X is n rows of `dims` doubles, centers is k rows.
#pragma once

#include <cstddef>

namespace pyml {

// Row index of the second initial centre's rank: (long) max(0, n - n*0.01 - 1),
// computed in double exactly as dlib does.
std::size_t initial_center_rank(std::size_t n) noexcept;

// Writes k initial centres (k * dims doubles). Centre 0 is X[0]; centre i+1 is
// the sample at rank initial_center_rank(n) when samples are sorted (libstdc++
// std::sort of {idx, dist} records by dist) by their squared kernel distance
// to the nearest of the centres chosen so far.
// Throws std::invalid_argument if n == 0, dims == 0 or k == 0, or k > n.
void pick_initial_centers(const double* X, std::size_t n, std::size_t dims, std::size_t k, double* centers);

// Lloyd iterations from the given centres (k * dims doubles, updated in place)
// until no assignment changes or max_iterations iterations ran. Returns the
// number of iterations run.
// Throws std::invalid_argument if n == 0, dims == 0, k == 0 or
// max_iterations == 0 (nothing is modified then).
std::size_t find_clusters(const double* X, std::size_t n, std::size_t dims, std::size_t k,
                          std::size_t max_iterations, double* centers);

// pick_initial_centers followed by find_clusters; returns the iterations run.
std::size_t kmeans(const double* X, std::size_t n, std::size_t dims, std::size_t k, std::size_t max_iterations,
                   double* centers);

}  // namespace pyml
