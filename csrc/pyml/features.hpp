// Feature extraction, in the two variants the configurations use.
//
// v1 (Netdata v1.33, SPEC §2): difference, trailing mean computed with a
// running sum from the newest end, lag, absolute value. For raw samples
// x[0..n) (oldest first) with D = diff_n, S = smooth_n, L = lag_n the result
// has n - D - (S - 1) - L rows (or none) of L + 1 columns; row r is
// [|y[j]|, |y[j-1]|, ..., |y[j-L]|] for j = D + S - 1 + L + r, where y is the
// differenced, smoothed series. The arithmetic (summation order,
// multiplication by the reciprocal 1/S) is reproduced exactly, so results are
// bit-identical with the reference implementation.
//
// v2 (Netdata 2.x, SPEC-NETDATA-2 §3.3): the same number of rows, but each
// row is oldest element first and signed: row j is [s[j], s[j+1], ..., s[j+L]]
// where s[j] is the mean of the differences d[j .. j+S-1], computed with a
// running sum that moves forward from the oldest value (add the new
// difference, divide by S, subtract the oldest), and the smoothed value at
// index n - S is then set to 0 (it exists only when D = 0: the newest element
// of the last row becomes 0, Netdata's zeroing of the buffer's last S slots).
// For L < 5 the rows have L + 1 coordinates (Netdata always has 6, the ones
// beyond L + 1 unwritten); L = 5 is the case Netdata defines.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pyml {

// Accepted parameter ranges (those of the reference configuration):
// diff_n in [0, kMaxDiffN], smooth_n in [0, kMaxSmoothN] (0 behaves as 1,
// i.e. no smoothing), lag_n in [0, kMaxLagN].
inline constexpr std::size_t kMaxDiffN = 1;
inline constexpr std::size_t kMaxSmoothN = 5;
inline constexpr std::size_t kMaxLagN = 5;
inline constexpr std::size_t kMaxFeatureDims = kMaxLagN + 1;

// Which feature recipe: v1 (newest first, |x|, x * (1/S), running sum from
// the newest end) or v2 (oldest first, signed, sum / S, running sum forward).
enum class FeatureVariant : std::uint8_t { v1 = 0, v2 = 1 };

// "v1" or "v2".
const char* feature_variant_name(FeatureVariant v) noexcept;

struct FeatureParams {
    std::size_t diff_n = 1, smooth_n = 3, lag_n = 5;  // smooth_n 0 behaves as 1
};

// Throws std::invalid_argument naming the parameter and value when a
// parameter is outside the accepted range.
void validate_feature_params(const FeatureParams& p);

// smooth_n with 0 mapped to 1.
constexpr std::size_t effective_smooth_n(const FeatureParams& p) noexcept {
    return p.smooth_n == 0 ? 1 : p.smooth_n;
}

// Number of raw samples one feature vector needs: D + S + L (S as effective).
constexpr std::size_t feature_window(const FeatureParams& p) noexcept {
    return p.diff_n + effective_smooth_n(p) + p.lag_n;
}

// n - D - (S-1) - L when positive, else 0.
std::size_t feature_rows(std::size_t n, const FeatureParams& p) noexcept;

// lag_n + 1.
constexpr std::size_t feature_dims(const FeatureParams& p) noexcept { return p.lag_n + 1; }

// x: n raw samples, oldest first (not modified); scratch: n doubles (any
// content, overwritten; may not alias x or out); out: feature_rows(n, p) *
// feature_dims(p) doubles, row-major, oldest vector first.
// Validates p (std::invalid_argument); writes nothing when there are no rows.
void extract_features(const double* x, std::size_t n, const FeatureParams& p, double* scratch, double* out);

// The v2 vectors (see the file head), row-major, oldest first: the same rows
// and columns as extract_features. scratch: n doubles, may not alias x or out.
void extract_features_v2(const double* x, std::size_t n, const FeatureParams& p, double* scratch, double* out);

// The v2 smoothed series the v2 rows are windows of: out[j] = s[j] for the
// n - D - (S - 1) indices from 0 (nothing when that count is not positive),
// with s[n - S] = 0 when D = 0. Row r, column e of extract_features_v2 is
// out[r + e]. Validates p like extract_features.
void smoothed_series_v2(const double* x, std::size_t n, const FeatureParams& p, double* out);

// extract_features or extract_features_v2.
void extract_features(const double* x, std::size_t n, const FeatureParams& p, FeatureVariant variant,
                      double* scratch, double* out);

// The single feature column the rows are lagged views of: out[i] = |y[d + s - 1 + i]|
// for the n - d - (s - 1) indices from d + s - 1 on (nothing when that count
// is not positive; p.lag_n is ignored). Row r, column e of extract_features is
// out[r + lag_n - e]. Validates p like extract_features.
void smoothed_series(const double* x, std::size_t n, const FeatureParams& p, double* out);

}  // namespace pyml
