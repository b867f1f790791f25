// The only file that includes pybind11: argument marshalling, output
// allocation and GIL release around the pure C++ core. Arrays arrive already
// validated and converted by pyml/_arrays.py; every array argument is
// `noconvert`, so nothing is copied or cast silently here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>
#include <stdexcept>
#include <string>
#include <string_view>

#include "pyml/allmetrics.hpp"
#include "pyml/bank.hpp"
#include "pyml/calibration.hpp"
#include "pyml/describe.hpp"
#include "pyml/features.hpp"
#include "pyml/kmeans.hpp"
#include "pyml/model.hpp"
#include "pyml/sampling.hpp"
#include "pyml/storage_number.hpp"
#include "pyml/tier_point.hpp"
#include "pyml/trainer.hpp"

namespace py = pybind11;

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style>;

void require_1d(const py::buffer_info& info, const char* name) {
    if (info.ndim != 1) {
        throw std::invalid_argument(std::string(name) + " must be 1-dimensional, got " +
                                    std::to_string(info.ndim) + " dimensions");
    }
}

// A flag array is either one value (broadcast) or one per sample; returns its stride.
std::size_t flag_stride(const carray<bool>& flags, std::size_t n, const char* name) {
    const auto size = static_cast<std::size_t>(flags.size());
    if (size == 1) return 0;
    if (size == n) return 1;
    throw std::invalid_argument(std::string(name) + " has " + std::to_string(size) +
                                " elements; expected 1 or " + std::to_string(n));
}

// ---------------------------------------------------------------- storage word

carray<std::uint32_t> bind_pack(const carray<double>& values, const carray<bool>& anomalous,
                                const carray<bool>& reset) {
    require_1d(values.request(), "values");
    const auto n = static_cast<std::size_t>(values.size());
    const std::size_t anomalous_stride = flag_stride(anomalous, n, "anomalous");
    const std::size_t reset_stride = flag_stride(reset, n, "reset");
    carray<std::uint32_t> out(static_cast<py::ssize_t>(n));
    const double* v = values.data();
    const auto* a = reinterpret_cast<const std::uint8_t*>(anomalous.data());
    const auto* r = reinterpret_cast<const std::uint8_t*>(reset.data());
    std::uint32_t* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        pyml::pack_samples(v, n, a, anomalous_stride, r, reset_stride, o);
    }
    return out;
}

py::tuple bind_unpack(const carray<std::uint32_t>& words) {
    require_1d(words.request(), "words");
    const auto n = static_cast<py::ssize_t>(words.size());
    carray<double> values(n);
    carray<bool> anomalous(n), exists(n);
    const std::uint32_t* w = words.data();
    double* v = values.mutable_data();
    auto* a = reinterpret_cast<std::uint8_t*>(anomalous.mutable_data());
    auto* e = reinterpret_cast<std::uint8_t*>(exists.mutable_data());
    {
        py::gil_scoped_release release;
        pyml::unpack_samples(w, static_cast<std::size_t>(n), v, a, e);
    }
    return py::make_tuple(values, anomalous, exists);
}

carray<double> bind_unpack_double(const carray<std::uint32_t>& words) {
    require_1d(words.request(), "words");
    const auto n = static_cast<py::ssize_t>(words.size());
    carray<double> values(n);
    const std::uint32_t* w = words.data();
    double* v = values.mutable_data();
    {
        py::gil_scoped_release release;
        pyml::unpack_samples_double(w, static_cast<std::size_t>(n), v);
    }
    return values;
}

// The first tier's open point takes one tick (pyml/tier_point.hpp); the five point arrays are updated in place.
void bind_accumulate_tier_point(const carray<double>& values, const carray<std::uint32_t>& words, carray<double> sum,
                                carray<double> min, carray<double> max, carray<std::uint16_t> count,
                                carray<std::uint32_t> normal) {
    const py::ssize_t n = values.size();
    const char* names[] = {"values", "words", "sum", "min", "max", "count", "normal"};
    const py::array* arrays[] = {&values, &words, &sum, &min, &max, &count, &normal};
    for (int i = 0; i < 7; ++i) {
        require_1d(arrays[i]->request(), names[i]);
        if (arrays[i]->size() != n) {
            throw std::invalid_argument(std::string(names[i]) + " has " + std::to_string(arrays[i]->size()) +
                                        " elements; values has " + std::to_string(n));
        }
    }
    pyml::accumulate_tier_point(values.data(), words.data(), static_cast<std::size_t>(n), sum.mutable_data(),
                                min.mutable_data(), max.mutable_data(), count.mutable_data(), normal.mutable_data());
}

void bind_storage(py::module_& m) {
    m.def("accumulate_tier_point", &bind_accumulate_tier_point, py::arg("values").noconvert(),
          py::arg("words").noconvert(), py::arg("sum").noconvert(), py::arg("min").noconvert(),
          py::arg("max").noconvert(), py::arg("count").noconvert(), py::arg("normal").noconvert(),
          "Add one tick to the first tier's open point, in place: sum, min, max and count of the values that are "
          "not NaN, and normal += 1 where the word's anomaly bit says normal. float64 values, uint32 words, "
          "float64 sum/min/max, uint16 count, uint32 normal, all 1-D, C-contiguous and of one length.");
    m.def("pack", &bind_pack, py::arg("values").noconvert(), py::arg("anomalous").noconvert(),
          py::arg("reset").noconvert(),
          "Pack float64 values into storage words; NaN becomes the empty slot 0.");
    m.def("unpack", &bind_unpack, py::arg("words").noconvert(),
          "Unpack storage words (80-bit reference results) into (values, anomalous, exists).");
    m.def("unpack_double", &bind_unpack_double, py::arg("words").noconvert(),
          "Unpack storage words with the double-precision path training uses; empty gives NaN.");
    m.def("pack_scalar", &pyml::pack_sample, py::arg("value"), py::arg("anomalous"), py::arg("reset"),
          "Pack one value (the scalar path of pack).");
    m.def("pack_reference", &pyml::pack_reference, py::arg("value"), py::arg("flags"),
          "The reference pack in 80-bit arithmetic with raw flags (NaN packs like zero).");
    m.def("unpack_reference", &pyml::unpack_reference, py::arg("word"),
          "The reference unpack in 80-bit arithmetic (word 0 gives 0.0).");
    m.attr("EMPTY_SLOT") = pyml::kEmptySlot;
    m.attr("ANOMALY_BIT") = pyml::kAnomalyBit;
    m.attr("RESET_FLAG") = pyml::kResetFlag;
    m.attr("ANOMALOUS_ZERO") = pyml::kAnomalousZero;
}

// ---------------------------------------------------------------- ML core: features, k-means, model

// A count argument (diff_n, k, max_iterations...): negative is a ValueError naming it.
std::size_t ml_count(std::int64_t value, const char* name) {
    if (value < 0) throw std::invalid_argument(std::string(name) + " = " + std::to_string(value) + " must be >= 0");
    return static_cast<std::size_t>(value);
}

pyml::FeatureParams ml_feature_params(std::int64_t diff_n, std::int64_t smooth_n, std::int64_t lag_n) {
    pyml::FeatureParams p;
    p.diff_n = ml_count(diff_n, "diff_n");
    p.smooth_n = ml_count(smooth_n, "smooth_n");
    p.lag_n = ml_count(lag_n, "lag_n");
    pyml::validate_feature_params(p);
    return p;
}

// "v1" or "v2" (argument `name`).
pyml::FeatureVariant ml_variant(const std::string& value, const char* name) {
    if (value == "v1") return pyml::FeatureVariant::v1;
    if (value == "v2") return pyml::FeatureVariant::v2;
    throw std::invalid_argument(std::string(name) + " = '" + value + "' must be 'v1' or 'v2'");
}

// A uint32 argument (seed, after, before) from a Python int.
std::uint32_t ml_uint32(std::int64_t value, const std::string& name) {
    if (value < 0 || value > 4294967295LL) {
        throw std::invalid_argument(name + " = " + std::to_string(value) + " is out of range [0, 4294967295]");
    }
    return static_cast<std::uint32_t>(value);
}

// An exact C-contiguous float64 array passes through; anything else is
// converted once by pyml._arrays.as_float64 (lossless, errors name `name`).
carray<double> ml_float64(const py::handle& obj, const char* name) {
    if (py::isinstance<carray<double>>(obj)) {
        auto a = py::reinterpret_borrow<py::array>(obj);
        if (a.dtype().is(py::dtype::of<double>()) && (a.flags() & py::array::c_style)) {
            return py::reinterpret_borrow<carray<double>>(obj);
        }
    }
    const py::object converted = py::module_::import("pyml._arrays").attr("as_float64")(name, obj);
    return py::reinterpret_borrow<carray<double>>(converted);
}

std::string ml_describe(double v) {
    std::ostringstream out;
    out.precision(17);
    out << v;
    return out.str();
}

// The feature vector argument of Model.score / Model.distance.
const double* ml_vector(const pyml::Model& m, const carray<double>& v) {
    if (v.ndim() != 1 || static_cast<std::size_t>(v.shape(0)) != m.dims) {
        std::ostringstream shape;
        shape << "(";
        for (py::ssize_t i = 0; i < v.ndim(); ++i) shape << (i ? ", " : "") << v.shape(i);
        shape << (v.ndim() == 1 ? ",)" : ")");
        throw std::invalid_argument("vector must have shape (" + std::to_string(m.dims) + ",) for this model, got " +
                                    shape.str());
    }
    return v.data();
}

carray<double> ml_features(const carray<double>& x, std::int64_t diff_n, std::int64_t smooth_n, std::int64_t lag_n,
                           const std::string& variant_name) {
    require_1d(x.request(), "x");
    const pyml::FeatureParams p = ml_feature_params(diff_n, smooth_n, lag_n);
    const pyml::FeatureVariant variant = ml_variant(variant_name, "variant");
    const auto n = static_cast<std::size_t>(x.size());
    const std::size_t rows = pyml::feature_rows(n, p), dims = pyml::feature_dims(p);
    carray<double> out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(dims)});
    const double* in = x.data();
    double* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        std::vector<double> scratch(n);
        pyml::extract_features(in, n, p, variant, scratch.data(), o);
    }
    return out;
}

carray<double> ml_kmeans(const carray<double>& X, std::int64_t k, std::int64_t max_iterations) {
    if (X.ndim() != 2) {
        throw std::invalid_argument("X must be 2-dimensional (samples x features), got " + std::to_string(X.ndim()) +
                                    " dimensions");
    }
    const auto n = static_cast<std::size_t>(X.shape(0)), dims = static_cast<std::size_t>(X.shape(1));
    const std::size_t kk = ml_count(k, "k"), iters = ml_count(max_iterations, "max_iterations");
    if (kk < 1) throw std::invalid_argument("k = 0 must be at least 1");
    if (iters < 1) throw std::invalid_argument("max_iterations = 0 must be at least 1");
    if (n == 0 || dims == 0) {
        throw std::invalid_argument("X must have at least one row and one column, got shape (" + std::to_string(n) +
                                    ", " + std::to_string(dims) + ")");
    }
    if (kk > n) {
        throw std::invalid_argument("k = " + std::to_string(kk) + " is larger than the number of rows of X (" +
                                    std::to_string(n) + ")");
    }
    const double* x = X.data();
    if (!pyml::all_finite(x, n * dims)) {
        for (std::size_t i = 0; i < n * dims; ++i) {
            if (!std::isfinite(x[i])) {
                throw std::invalid_argument("X[" + std::to_string(i / dims) + ", " + std::to_string(i % dims) +
                                            "] = " + ml_describe(x[i]) + " is not finite");
            }
        }
    }
    carray<double> out({static_cast<py::ssize_t>(kk), static_cast<py::ssize_t>(dims)});
    double* c = out.mutable_data();
    {
        py::gil_scoped_release release;
        pyml::kmeans(x, n, dims, kk, iters, c);
    }
    return out;
}

pyml::Model ml_train(const carray<double>& history, std::int64_t diff_n, std::int64_t smooth_n, std::int64_t lag_n,
                     std::int64_t max_iterations, const std::string& features, std::int64_t max_vectors,
                     std::int64_t seed) {
    require_1d(history.request(), "history");
    pyml::TrainParams p;
    p.features = ml_feature_params(diff_n, smooth_n, lag_n);
    p.max_iterations = ml_count(max_iterations, "max_iterations");
    p.variant = ml_variant(features, "features");
    p.max_vectors = ml_count(max_vectors, "max_vectors");
    p.seed = ml_uint32(seed, "seed");
    pyml::validate_train_params(p);
    const double* h = history.data();
    const auto n = static_cast<std::size_t>(history.size());
    py::gil_scoped_release release;
    // Buffers kept per thread between calls: fresh ones cost more than the
    // training itself (page faults), and repeated trainings are the common
    // case. Histories beyond kKeep points use (and free) their own.
    constexpr std::size_t kKeep = std::size_t{1} << 20;
    thread_local std::vector<double> kept_filled;
    thread_local pyml::TrainScratch kept_scratch;
    std::vector<double> own_filled;
    pyml::TrainScratch own_scratch;
    const bool keep = n <= kKeep;
    std::vector<double>& filled = keep ? kept_filled : own_filled;
    pyml::TrainScratch& scratch = keep ? kept_scratch : own_scratch;
    pyml::fill_gaps(h, n, filled);
    if (filled.empty()) throw std::invalid_argument("history has no points (every value is NaN)");
    return pyml::train_model(filled.data(), filled.size(), p, scratch);
}

carray<std::uint32_t> ml_sampling_table(std::int64_t size, std::int64_t seed) {
    const std::size_t m = ml_count(size, "size");
    if (m > pyml::kMaxTrainingVectors) {
        throw std::invalid_argument("size = " + std::to_string(m) + " is larger than " +
                                    std::to_string(pyml::kMaxTrainingVectors));
    }
    const auto table = pyml::sampling_table(m, ml_uint32(seed, "seed"));
    carray<std::uint32_t> out(static_cast<py::ssize_t>(m));
    std::copy(table.begin(), table.end(), out.mutable_data());
    return out;
}

carray<bool> ml_sample_mask(std::int64_t vectors, std::int64_t max_vectors, std::int64_t seed) {
    const std::size_t e = ml_count(vectors, "vectors"), m = ml_count(max_vectors, "max_vectors");
    if (m < 1 || m > pyml::kMaxTrainingVectors) {
        throw std::invalid_argument("max_vectors = " + std::to_string(m) + " is out of range [1, " +
                                    std::to_string(pyml::kMaxTrainingVectors) + "]");
    }
    const auto table = pyml::sampling_table(m, ml_uint32(seed, "seed"));
    const std::uint32_t cutoff = pyml::sampling_cutoff(e, m);
    carray<bool> out(static_cast<py::ssize_t>(e));
    auto* o = reinterpret_cast<std::uint8_t*>(out.mutable_data());
    for (std::size_t j = 0; j < e; ++j) o[j] = pyml::sample_kept(j, table.data(), m, cutoff) ? 1 : 0;
    return out;
}

py::tuple ml_fill_gaps(const carray<double>& history) {
    require_1d(history.request(), "history");
    const double* h = history.data();
    const auto n = static_cast<std::size_t>(history.size());
    std::vector<double> filled;
    std::size_t existing = 0;
    {
        py::gil_scoped_release release;
        existing = pyml::fill_gaps(h, n, filled);
    }
    carray<double> out(static_cast<py::ssize_t>(filled.size()));
    std::copy(filled.begin(), filled.end(), out.mutable_data());
    return py::make_tuple(out, existing);
}

pyml::Model ml_model_from_bytes(const py::object& data) {
    if (py::isinstance<py::str>(data) || !(py::isinstance<py::bytes>(data) || PyByteArray_Check(data.ptr()) ||
                                           PyMemoryView_Check(data.ptr()))) {
        throw py::type_error("data must be bytes, bytearray or memoryview, got " +
                             std::string(py::str(py::type::of(data).attr("__name__"))));
    }
    std::string bytes;
    if (py::isinstance<py::bytes>(data)) {
        bytes = data.cast<std::string>();
    } else {
        const auto copy = py::reinterpret_steal<py::bytes>(PyBytes_FromObject(data.ptr()));
        if (!copy) throw py::error_already_set();
        bytes = copy.cast<std::string>();
    }
    return pyml::Model::from_bytes(bytes);
}

void bind_ml(py::module_& m) {
    m.def("features", &ml_features, py::arg("x").noconvert(), py::arg("diff_n") = 1, py::arg("smooth_n") = 3,
          py::arg("lag_n") = 5, py::arg("variant") = "v1",
          "Feature vectors of a raw series (oldest first): float64[m, lag_n + 1], oldest vector first. v1: "
          "row [|y[j]|, |y[j-1]|, ..., |y[j-lag_n]|] of the differenced, smoothed series y; v2: "
          "[s[j], ..., s[j+lag_n]], signed, smoothed forward with sum / S.");
    m.def("kmeans", &ml_kmeans, py::arg("X").noconvert(), py::arg("k") = 2, py::arg("max_iterations") = 1000,
          "dlib-equal k-means of the rows of X (finite float64[n, f]): the k centres, float64[k, f].");
    m.def("train", &ml_train, py::arg("history").noconvert(), py::arg("diff_n") = 1, py::arg("smooth_n") = 3,
          py::arg("lag_n") = 5, py::arg("max_iterations") = 1000, py::kw_only(), py::arg("features") = "v1",
          py::arg("max_vectors") = 0, py::arg("seed") = pyml::kDefaultSamplingSeed,
          "Train a Model on a raw history (NaN = missing point; leading gaps dropped, later ones forward-filled); "
          "max_vectors > 0 sub-samples the vectors with the mt19937(seed) table.");
    m.def("sampling_table", &ml_sampling_table, py::arg("size"), py::arg("seed"),
          "The first `size` outputs of std::mt19937(seed), uint32[size].");
    m.def("sample_mask", &ml_sample_mask, py::arg("vectors"), py::arg("max_vectors"), py::arg("seed"),
          "Which of `vectors` training vectors the sub-sampling keeps, bool[vectors].");
    m.attr("DEFAULT_SEED") = pyml::kDefaultSamplingSeed;
    m.def("fill_gaps", &ml_fill_gaps, py::arg("history").noconvert(),
          "(filled, existing): leading NaNs dropped, later ones forward-filled; existing = non-NaN points.");

    using Model = pyml::Model;
    py::class_<Model>(m, "Model", R"doc(
A trained model: k centres and the range of the training vectors' mean
distance to them.

``Model(centers, min_dist, max_dist)`` builds one from its parts (centers:
float64[k, dims]); ``train`` builds one from a history. ``score(vector)`` is
the anomaly score in [0, 100]: 0 if max_dist == min_dist, else
``min(100, 100 * |(distance(vector) - min_dist) / (max_dist - min_dist)|)``.
``to_bytes()`` / ``Model.from_bytes(b)`` round-trip exactly (a versioned,
checksummed little-endian format); models pickle through them.
)doc")
        .def(py::init([](const py::object& centers, double min_dist, double max_dist) {
                 const carray<double> c = ml_float64(centers, "centers");
                 if (c.ndim() != 2 || c.shape(0) < 1 || c.shape(1) < 1) {
                     throw std::invalid_argument("centers must be 2-dimensional (k >= 1 rows, dims >= 1 columns), got " +
                                                 std::to_string(c.ndim()) + " dimensions of size " +
                                                 std::to_string(c.size()));
                 }
                 Model model;
                 model.k = static_cast<std::size_t>(c.shape(0));
                 model.dims = static_cast<std::size_t>(c.shape(1));
                 model.centers.assign(c.data(), c.data() + c.size());
                 model.min_dist = min_dist;
                 model.max_dist = max_dist;
                 return model;
             }),
             py::arg("centers"), py::arg("min_dist"), py::arg("max_dist"))
        .def_property_readonly(
            "centers",
            [](const Model& model) {
                carray<double> out({static_cast<py::ssize_t>(model.k), static_cast<py::ssize_t>(model.dims)});
                std::copy(model.centers.begin(), model.centers.end(), out.mutable_data());
                return out;
            },
            "float64[k, dims]: the centres (a copy).")
        .def_readonly("min_dist", &Model::min_dist, "Smallest mean distance of a training vector to the centres.")
        .def_readonly("max_dist", &Model::max_dist,
                      "Largest mean distance of a training vector (DBL_MIN, the tiny positive, if all were 0).")
        .def_readonly("k", &Model::k, "Number of centres.")
        .def_readonly("dims", &Model::dims, "Coordinates of a feature vector (lag_n + 1).")
        .def(
            "distance",
            [](const Model& model, const py::object& vector) {
                const carray<double> v = ml_float64(vector, "vector");
                return model.distance(ml_vector(model, v));
            },
            py::arg("vector"), "Mean Euclidean distance of a feature vector to the centres.")
        .def(
            "score",
            [](const Model& model, const py::object& vector) {
                const carray<double> v = ml_float64(vector, "vector");
                return model.score(ml_vector(model, v));
            },
            py::arg("vector"), "Anomaly score of one feature vector, in [0, 100].")
        .def("to_bytes", [](const Model& model) { return py::bytes(model.to_bytes()); },
             "The model as bytes (versioned little-endian format with a magic header and a CRC-32).")
        .def_static("from_bytes", &ml_model_from_bytes, py::arg("data"),
                    "The model serialised by to_bytes; ValueError for bad, foreign, truncated or corrupt bytes.")
        .def("__eq__",
             [](const Model& a, const py::object& other) -> py::object {
                 if (!py::isinstance<Model>(other)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
                 return py::bool_(a.to_bytes() == other.cast<const Model&>().to_bytes());
             })
        .def("__repr__",
             [](const Model& model) {
                 return "Model(k=" + std::to_string(model.k) + ", dims=" + std::to_string(model.dims) +
                        ", min_dist=" + std::string(py::repr(py::float_(model.min_dist))) +
                        ", max_dist=" + std::string(py::repr(py::float_(model.max_dist))) + ")";
             })
        .def(py::pickle([](const Model& model) { return py::bytes(model.to_bytes()); },
                        [](const py::bytes& data) { return Model::from_bytes(data.cast<std::string>()); }));
    m.attr("Model").attr("__hash__") = py::none();
    m.attr("MAX_MODELS") = pyml::kMaxModels;
    m.attr("STATUS_ACTIVE") = pyml::kStatusActive;
    m.attr("STATUS_TRAINED") = pyml::kStatusTrained;
    m.attr("STATUS_SILENCED") = pyml::kStatusSilenced;
    m.attr("STATUS_VARIABLE") = pyml::kStatusVariable;
    m.attr("MAX_DIFF_N") = pyml::kMaxDiffN;
    m.attr("MAX_SMOOTH_N") = pyml::kMaxSmoothN;
    m.attr("MAX_LAG_N") = pyml::kMaxLagN;
}

// ---------------------------------------------------------------- dimension bank

// A slot number from Python: negative numbers are no slot (IndexError).
std::size_t to_slot(std::int64_t slot) {
    if (slot < 0) throw std::out_of_range("slot " + std::to_string(slot) + " is not a slot in use in this bank");
    return static_cast<std::size_t>(slot);
}

std::size_t to_count(std::int64_t value, const char* name) {
    if (value < 0) throw std::invalid_argument(std::string(name) + " = " + std::to_string(value) + " must be >= 0");
    return static_cast<std::size_t>(value);
}

// The exact array the core reads: 1-D, C-contiguous float64; anything else
// is refused with the argument's name (nothing is converted here).
const double* float64_vector(const py::array& a, const std::string& name, std::size_t& n) {
    if (!a.dtype().is(py::dtype::of<double>())) {
        throw py::type_error(name + " must be a float64 array, got dtype " + std::string(py::str(a.dtype())));
    }
    if (a.ndim() != 1) {
        throw std::invalid_argument(name + " must be 1-dimensional, got " + std::to_string(a.ndim()) + " dimensions");
    }
    if (!(a.flags() & py::array::c_style)) throw py::type_error(name + " must be C-contiguous");
    n = static_cast<std::size_t>(a.shape(0));
    return static_cast<const double*>(a.data());
}

// The calibration keywords of Bank and calibrate.
pyml::CalibrationParams calibration_params(const std::string& kind, double peak_window, double memory, double decades,
                                           double bit_level, double saturation, double prior_rate,
                                           double score_decades, double score_warmup, double day_decades, double day_slots, double day_ticks_per_slot, double day_warmup, double day_memory, double day_span, double day_long_memory) {
    pyml::CalibrationParams p;
    if (kind == "none") {
        p.kind = pyml::CalibrationKind::none;
    } else if (kind == "surprise") {
        p.kind = pyml::CalibrationKind::surprise;
    } else {
        throw std::invalid_argument("calibration = '" + kind + "' must be 'none' or 'surprise'");
    }
    p.peak_window = peak_window;
    p.memory = memory;
    p.decades = decades;
    p.bit_level = bit_level;
    p.saturation = saturation;
    p.prior_rate = prior_rate;
    p.score_decades = score_decades;
    p.score_warmup = score_warmup;
    p.day_decades = day_decades;
    p.day_slots = day_slots;
    p.day_ticks_per_slot = day_ticks_per_slot;
    p.day_warmup = day_warmup;
    p.day_memory = day_memory;
    p.day_span = day_span;
    p.day_long_memory = day_long_memory;
    pyml::validate_calibration_params(p);
    return p;
}

// A (ticks, slots) C-contiguous array of the given dtype, refused by name otherwise.
template <class T>
const T* matrix_of(const py::array& a, const char* name, const char* dtype, std::size_t& rows, std::size_t& cols) {
    if (!a.dtype().is(py::dtype::of<T>())) {
        throw py::type_error(std::string(name) + " must be a " + dtype + " array, got dtype " +
                             std::string(py::str(a.dtype())));
    }
    if (a.ndim() != 2) {
        throw std::invalid_argument(std::string(name) + " must be 2-dimensional (ticks, slots), got " +
                                    std::to_string(a.ndim()) + " dimensions");
    }
    if (!(a.flags() & py::array::c_style)) throw py::type_error(std::string(name) + " must be C-contiguous");
    rows = static_cast<std::size_t>(a.shape(0));
    cols = static_cast<std::size_t>(a.shape(1));
    return static_cast<const T*>(a.data());
}

py::tuple calibrate(const py::array& values, const py::array& scores, const py::array& trained,
                    const std::string& kind, double peak_window, double memory, double decades, double bit_level,
                    double saturation, double prior_rate, double score_decades, double score_warmup,
                    double day_decades, double day_slots, double day_ticks_per_slot, double day_warmup, double day_memory, double day_span, double day_long_memory, const py::object& day_slot) {
    const pyml::CalibrationParams p = calibration_params(kind, peak_window, memory, decades, bit_level, saturation,
                                                         prior_rate, score_decades, score_warmup, day_decades, day_slots, day_ticks_per_slot, day_warmup, day_memory, day_span, day_long_memory);
    if (p.kind == pyml::CalibrationKind::none) {
        throw std::invalid_argument("calibration = 'none' has no rule to apply; use 'surprise'");
    }
    std::size_t ticks = 0, slots = 0, r = 0, c = 0;
    const double* v = matrix_of<double>(values, "values", "float64", ticks, slots);
    const double* s = matrix_of<double>(scores, "scores", "float64", r, c);
    if (r != ticks || c != slots) {
        throw std::invalid_argument("scores has shape (" + std::to_string(r) + ", " + std::to_string(c) +
                                    "); expected (" + std::to_string(ticks) + ", " + std::to_string(slots) +
                                    ") like values");
    }
    const auto* t = reinterpret_cast<const std::uint8_t*>(matrix_of<bool>(trained, "trained", "bool", r, c));
    if (r != ticks || c != slots) {
        throw std::invalid_argument("trained has shape (" + std::to_string(r) + ", " + std::to_string(c) +
                                    "); expected (" + std::to_string(ticks) + ", " + std::to_string(slots) +
                                    ") like values");
    }
    const std::int32_t* day = nullptr;
    py::array day_array;
    if (!day_slot.is_none()) {
        day_array = day_slot.cast<py::array>();
        if (!day_array.dtype().is(py::dtype::of<std::int32_t>()) || day_array.ndim() != 1 ||
            !(day_array.flags() & py::array::c_style)) {
            throw py::type_error("day_slot must be None or a 1-dimensional C-contiguous int32 array (one per tick)");
        }
        if (static_cast<std::size_t>(day_array.shape(0)) != ticks) {
            throw std::invalid_argument("day_slot has " + std::to_string(day_array.shape(0)) + " elements; expected " +
                                        std::to_string(ticks) + " (one per tick)");
        }
        day = static_cast<const std::int32_t*>(day_array.data());
    }
    const std::vector<py::ssize_t> shape = {static_cast<py::ssize_t>(ticks), static_cast<py::ssize_t>(slots)};
    carray<double> out_scores(shape), out_levels(shape);
    carray<bool> out_bits(shape);
    double* os = out_scores.mutable_data();
    double* ol = out_levels.mutable_data();
    auto* ob = reinterpret_cast<std::uint8_t*>(out_bits.mutable_data());
    {
        py::gil_scoped_release release;
        pyml::calibrate_series(p, ticks, slots, v, s, t, os, ob, ol, pyml::kMaxStorableMagnitude, day);
    }
    return py::make_tuple(out_scores, out_bits, out_levels);
}

// What one train call did, slot by slot (arrays in request order).
struct TrainReport {
    std::vector<pyml::TrainOutcome> outcomes;
};

py::object bank_tick(pyml::Bank& bank, const py::array& values, const py::object& reset, bool want_bits,
                     bool want_scores, bool want_levels, std::int64_t day_slot) {
    std::size_t n = 0;
    const double* v = float64_vector(values, "values", n);
    const std::size_t size = bank.size();
    if (n != size) {
        throw std::invalid_argument("values has " + std::to_string(n) + " elements; the bank has " +
                                    std::to_string(size) + " slots");
    }
    std::uint8_t reset_scalar = 0;
    const std::uint8_t* r = nullptr;
    std::size_t reset_stride = 0;
    py::array reset_array;
    if (reset.is_none()) {
        // no reset flag
    } else if (PyBool_Check(reset.ptr())) {
        reset_scalar = reset.ptr() == Py_True ? 1 : 0;
        r = &reset_scalar;
    } else if (py::isinstance<py::array>(reset)) {
        reset_array = reset.cast<py::array>();
        if (!reset_array.dtype().is(py::dtype::of<bool>())) {
            throw py::type_error("reset must be a bool array, got dtype " + std::string(py::str(reset_array.dtype())));
        }
        if (reset_array.ndim() != 1 || !(reset_array.flags() & py::array::c_style)) {
            throw py::type_error("reset must be a 1-dimensional C-contiguous bool array");
        }
        const auto m = static_cast<std::size_t>(reset_array.shape(0));
        if (m != 1 && m != n) {
            throw std::invalid_argument("reset has " + std::to_string(m) + " elements; expected 1 or " +
                                        std::to_string(n));
        }
        r = static_cast<const std::uint8_t*>(reset_array.data());
        reset_stride = m == 1 ? 0 : 1;
    } else {
        throw py::type_error("reset must be None, a bool or a bool array, got " +
                             std::string(py::str(py::type::of(reset).attr("__name__"))));
    }
    if (want_levels && bank.params().calibration.kind == pyml::CalibrationKind::none) {
        throw std::invalid_argument("want_levels: levels are the calibrated scores; this bank has calibration 'none'");
    }
    const pyml::CalibrationParams& calibration = bank.params().calibration;
    if (day_slot < -1 || (calibration.day_decades > 0.0 && static_cast<double>(day_slot) >= calibration.day_slots)) {
        throw std::invalid_argument("day_slot = " + std::to_string(day_slot) + " must be -1 (none) or a slot of the day "
                                    "below day_slots");
    }
    const auto count = static_cast<py::ssize_t>(n);
    carray<std::uint32_t> words(count);
    carray<bool> bits(want_bits ? count : 0);
    carray<double> scores(want_scores ? count : 0);
    carray<double> levels(want_levels ? count : 0);
    std::uint32_t* w = words.mutable_data();
    auto* b = want_bits ? reinterpret_cast<std::uint8_t*>(bits.mutable_data()) : nullptr;
    double* s = want_scores ? scores.mutable_data() : nullptr;
    double* l = want_levels ? levels.mutable_data() : nullptr;
    {
        py::gil_scoped_release release;
        bank.tick(v, n, r, reset_stride, w, b, s, l, static_cast<int>(day_slot));
    }
    if (!want_bits && !want_scores && !want_levels) return std::move(words);
    py::list out;
    out.append(words);
    if (want_bits) out.append(bits);
    if (want_scores) out.append(scores);
    if (want_levels) out.append(levels);
    return py::tuple(out);
}

// after / before of Bank.train: empty (all 0) or one per slot, each a uint32.
void train_times(const std::vector<std::int64_t>& times, const char* name, std::vector<pyml::TrainRequest>& requests,
                 std::uint32_t pyml::TrainRequest::*field) {
    if (times.empty()) return;
    if (times.size() != requests.size()) {
        throw std::invalid_argument(std::string(name) + " has " + std::to_string(times.size()) + " entries for " +
                                    std::to_string(requests.size()) + " slots");
    }
    for (std::size_t i = 0; i < times.size(); ++i) {
        requests[i].*field = ml_uint32(times[i], std::string(name) + "[" + std::to_string(i) + "]");
    }
}

TrainReport bank_train(pyml::Bank& bank, const std::vector<std::int64_t>& slots, const py::object& histories,
                       std::int64_t min_samples, std::int64_t max_iterations, std::int64_t threads,
                       const std::vector<std::int64_t>& after, const std::vector<std::int64_t>& before,
                       std::int64_t max_vectors, std::int64_t seed, bool skip_constant) {
    pyml::TrainerParams params;
    params.min_samples = to_count(min_samples, "min_samples");
    params.max_iterations = to_count(max_iterations, "max_iterations");
    params.threads = to_count(threads, "threads");
    params.max_vectors = to_count(max_vectors, "max_vectors");
    params.seed = ml_uint32(seed, "seed");
    params.skip_constant = skip_constant;
    std::vector<pyml::TrainRequest> requests(slots.size());
    for (std::size_t i = 0; i < slots.size(); ++i) requests[i].slot = to_slot(slots[i]);
    train_times(after, "after", requests, &pyml::TrainRequest::after);
    train_times(before, "before", requests, &pyml::TrainRequest::before);
    // Histories: a 2-D float64 array (one row per slot) or a sequence of 1-D
    // float64 arrays. The arrays stay referenced here for the whole call.
    std::vector<py::array> keep;
    if (py::isinstance<py::array>(histories) && histories.cast<py::array>().ndim() == 2) {
        const auto a = histories.cast<py::array>();
        if (!a.dtype().is(py::dtype::of<double>())) {
            throw py::type_error("histories must be float64, got dtype " + std::string(py::str(a.dtype())));
        }
        if (!(a.flags() & py::array::c_style)) throw py::type_error("histories must be C-contiguous");
        if (static_cast<std::size_t>(a.shape(0)) != slots.size()) {
            throw std::invalid_argument("histories has " + std::to_string(a.shape(0)) + " rows for " +
                                        std::to_string(slots.size()) + " slots");
        }
        const auto cols = static_cast<std::size_t>(a.shape(1));
        const auto* base = static_cast<const double*>(a.data());
        for (std::size_t i = 0; i < slots.size(); ++i) {
            requests[i].history = base + i * cols;
            requests[i].n = cols;
        }
        keep.push_back(a);
    } else {
        if (!py::isinstance<py::sequence>(histories) || py::isinstance<py::str>(histories)) {
            throw py::type_error("histories must be a 2-D float64 array or a sequence of 1-D float64 arrays");
        }
        const auto seq = histories.cast<py::sequence>();
        if (seq.size() != slots.size()) {
            throw std::invalid_argument("histories has " + std::to_string(seq.size()) + " entries for " +
                                        std::to_string(slots.size()) + " slots");
        }
        keep.reserve(slots.size());
        for (std::size_t i = 0; i < slots.size(); ++i) {
            const py::object item = seq[i];
            const std::string name = "histories[" + std::to_string(i) + "]";
            if (!py::isinstance<py::array>(item)) {
                throw py::type_error(name + " must be a float64 array, got " +
                                     std::string(py::str(py::type::of(item).attr("__name__"))));
            }
            keep.push_back(item.cast<py::array>());
            requests[i].history = float64_vector(keep.back(), name, requests[i].n);
        }
    }
    TrainReport report;
    {
        py::gil_scoped_release release;
        report.outcomes = pyml::train_slots(bank, requests, params);
    }
    return report;
}

void bind_bank(py::module_& m) {
    py::class_<TrainReport>(m, "TrainReport",
                            "What one Bank.train call did, per requested slot (in request order).")
        .def("__len__", [](const TrainReport& r) { return r.outcomes.size(); })
        .def_property_readonly(
            "slots",
            [](const TrainReport& r) {
                carray<std::int64_t> out(static_cast<py::ssize_t>(r.outcomes.size()));
                for (std::size_t i = 0; i < r.outcomes.size(); ++i) {
                    out.mutable_data()[i] = static_cast<std::int64_t>(r.outcomes[i].slot);
                }
                return out;
            },
            "int64 array: the slots, in request order.")
        .def_property_readonly(
            "status",
            [](const TrainReport& r) {
                py::list out;
                for (const auto& o : r.outcomes) out.append(pyml::train_status_name(o.status));
                return out;
            },
            "list of str: 'trained' (a model is queued for the next tick), 'too_few_points' (fewer than "
            "min_samples points existed), 'error' (see messages), 'constant' (skip_constant: the value did not "
            "change since the last attempt; not trained) or 'few_vectors' (max_vectors > 0: fewer than 2 vectors "
            "kept; TRAINED without a new model). Only 'trained' gives a model; the others keep the slot's models.")
        .def_property_readonly(
            "trained",
            [](const TrainReport& r) {
                carray<bool> out(static_cast<py::ssize_t>(r.outcomes.size()));
                for (std::size_t i = 0; i < r.outcomes.size(); ++i) {
                    out.mutable_data()[i] = r.outcomes[i].status == pyml::TrainStatus::trained;
                }
                return out;
            },
            "bool array: whether a model was queued for the slot.")
        .def_property_readonly(
            "existing",
            [](const TrainReport& r) {
                carray<std::int64_t> out(static_cast<py::ssize_t>(r.outcomes.size()));
                for (std::size_t i = 0; i < r.outcomes.size(); ++i) {
                    out.mutable_data()[i] = static_cast<std::int64_t>(r.outcomes[i].existing);
                }
                return out;
            },
            "int64 array: points of each history that were not NaN.")
        .def_property_readonly(
            "seconds",
            [](const TrainReport& r) {
                carray<double> out(static_cast<py::ssize_t>(r.outcomes.size()));
                for (std::size_t i = 0; i < r.outcomes.size(); ++i) out.mutable_data()[i] = r.outcomes[i].seconds;
                return out;
            },
            "float64 array: wall time spent training each slot, in seconds.")
        .def_property_readonly(
            "messages",
            [](const TrainReport& r) {
                py::list out;
                for (const auto& o : r.outcomes) out.append(o.message);
                return out;
            },
            "list of str: why a slot was not trained ('' when it was).")
        .def("__repr__", [](const TrainReport& r) {
            std::size_t counts[5] = {0, 0, 0, 0, 0};
            for (const auto& o : r.outcomes) ++counts[static_cast<int>(o.status)];
            std::string out = "TrainReport(" + std::to_string(r.outcomes.size()) + " slots: " +
                              std::to_string(counts[0]) + " trained, " + std::to_string(counts[1]) +
                              " too_few_points, " + std::to_string(counts[2]) + " error";
            if (counts[3]) out += ", " + std::to_string(counts[3]) + " constant";
            if (counts[4]) out += ", " + std::to_string(counts[4]) + " few_vectors";
            return out + ")";
        });

    m.def("calibrate", &calibrate, py::arg("values").noconvert(), py::arg("scores").noconvert(),
          py::arg("trained").noconvert(), py::kw_only(), py::arg("calibration") = "surprise",
          py::arg("peak_window") = 120.0, py::arg("memory") = 4000.0, py::arg("decades") = 4.0,
          py::arg("bit_level") = 0.75, py::arg("saturation") = 100.0, py::arg("prior_rate") = 0.01,
          py::arg("score_decades") = 0.0, py::arg("score_warmup") = 100.0,
          py::arg("day_decades") = 0.0, py::arg("day_slots") = 12.0, py::arg("day_ticks_per_slot") = 7200.0,
          py::arg("day_warmup") = 2.0, py::arg("day_memory") = 7.0, py::arg("day_span") = 10.0,
          py::arg("day_long_memory") = 1209600.0, py::arg("day_slot") = py::none(),
          "The bank's calibration rule over (ticks, slots) of values, scores (float64) and trained (bool), each "
          "slot from the prior: (scores float64, bits bool, levels float64), each (ticks, slots). day_slot: None "
          "or int32[ticks], each tick's slot of the day for the daily profile (-1: none).");
    using Bank = pyml::Bank;
    py::class_<Bank>(m, "Bank", R"doc(
Many dimensions' prediction state, scored together once per tick.

A slot is one dimension: its prediction window (the last diff_n + smooth_n +
lag_n raw values), up to `models` models (two centres, the range of training
distances, the training range after/before), its status and its generation.
``tick(values)`` takes one value per slot and returns one storage word per
slot: per slot the value is pushed into the window, the feature vector is
built (v1: bit for bit the last row of ``features(window)``; v2: the row of
``features(window, variant="v2")``), the slot's models vote oldest to newest
(each score bit for bit ``Model.score``; a NaN score is skipped; the first
score below 100 * threshold ends the vote as normal; anomalous iff some score
was not NaN and none ended it) and the word is ``pack(value, anomalous, reset)``.

* NaN = no value: the window is emptied and the word is the empty slot 0.
* inf or a magnitude beyond 1.6777215e21: the word is the saturated word and
  the window is emptied (a gap for the model).
* A slot is normal (score 0) without a model, while silenced, and until its
  window holds diff_n + smooth_n + lag_n consecutive values (v1) or one value
  more (v2).
* Free slots are ignored and yield the empty word.

Slots are added and removed while running without disturbing others; a
removed slot is reused by a later ``add_slot`` with its generation
incremented. ``train`` trains slots from their histories on worker threads
(GIL released) and queues the results; the next tick applies them (models by
Netdata's ring rule), dropping those of slots removed or reused meanwhile.
Every method may be called from any thread; the tick never waits for training.
)doc")
        .def(py::init([](std::int64_t diff_n, std::int64_t smooth_n, std::int64_t lag_n, double threshold,
                         std::int64_t capacity, std::int64_t models, const std::string& features,
                         std::int64_t suppression_window, std::int64_t suppression_threshold,
                         const std::string& kernel, const std::string& calibration, double peak_window,
                         double memory, double decades, double bit_level, double saturation, double prior_rate,
                         double score_decades, double score_warmup, double day_decades, double day_slots, double day_ticks_per_slot, double day_warmup, double day_memory, double day_span, double day_long_memory) {
                 pyml::BankParams p;
                 p.features.diff_n = to_count(diff_n, "diff_n");
                 p.features.smooth_n = to_count(smooth_n, "smooth_n");
                 p.features.lag_n = to_count(lag_n, "lag_n");
                 p.threshold = threshold;
                 if (models < 1 || models > static_cast<std::int64_t>(pyml::kMaxModels)) {
                     throw std::invalid_argument("models = " + std::to_string(models) + " is out of range [1, " +
                                                 std::to_string(pyml::kMaxModels) + "]");
                 }
                 p.models = static_cast<std::size_t>(models);
                 p.variant = ml_variant(features, "features");
                 p.suppression_window = ml_uint32(suppression_window, "suppression_window");
                 p.suppression_threshold = ml_uint32(suppression_threshold, "suppression_threshold");
                 if (kernel == "best") {
                     p.kernel = pyml::BankKernel::best;
                 } else if (kernel == "baseline") {
                     p.kernel = pyml::BankKernel::baseline;
                 } else if (kernel == "avx2") {
                     p.kernel = pyml::BankKernel::avx2;
                 } else {
                     throw std::invalid_argument("kernel = '" + kernel + "' must be 'best', 'baseline' or 'avx2'");
                 }
                 p.calibration = calibration_params(calibration, peak_window, memory, decades, bit_level, saturation,
                                                    prior_rate, score_decades, score_warmup, day_decades, day_slots, day_ticks_per_slot, day_warmup, day_memory, day_span, day_long_memory);
                 return std::make_unique<Bank>(p, to_count(capacity, "capacity"));
             }),
             py::arg("diff_n") = 1, py::arg("smooth_n") = 3, py::arg("lag_n") = 5, py::arg("threshold") = 0.99,
             py::arg("capacity") = 0, py::kw_only(), py::arg("models") = 1, py::arg("features") = "v1",
             py::arg("suppression_window") = 0, py::arg("suppression_threshold") = 0, py::arg("kernel") = "best",
             py::arg("calibration") = "none", py::arg("peak_window") = 120.0, py::arg("memory") = 4000.0,
             py::arg("decades") = 4.0, py::arg("bit_level") = 0.75, py::arg("saturation") = 100.0,
             py::arg("prior_rate") = 0.01, py::arg("score_decades") = 0.0, py::arg("score_warmup") = 100.0,
             py::arg("day_decades") = 0.0, py::arg("day_slots") = 12.0, py::arg("day_ticks_per_slot") = 7200.0,
          py::arg("day_warmup") = 2.0, py::arg("day_memory") = 7.0, py::arg("day_span") = 10.0,
          py::arg("day_long_memory") = 1209600.0,
             "diff_n in [0, 1], smooth_n in [0, 5] (0 behaves as 1), lag_n in [0, 5]; threshold = "
             "dimension_anomaly_score_threshold (finite, >= 0); capacity = slots to reserve room for; models per "
             "slot in [1, 168]; features 'v1' or 'v2'; suppression window and threshold both 0 (off) or both >= 1; "
             "kernel 'best', 'baseline' or 'avx2'; calibration 'none' or 'surprise' with its parameters "
             "peak_window in [0, 2**31] and memory in [1, 2**32] (ticks), decades > 0, bit_level in (0, 1], "
             "saturation in (0, 100], prior_rate in [0, 1], score_decades >= 0 (0: no score tail), score_warmup in "
             "[0, 2**32] predictions; day_decades >= 0 (0: no daily profile) with day_slots an integer in [1, 1440], "
             "day_ticks_per_slot > 0, day_warmup in [0, 1e6] and day_memory > 0 (days), day_span and "
             "day_long_memory in [1, 2**32] (ticks).")
        .def_property_readonly("size", &Bank::size, "Number of slots, free ones included: the length tick takes.")
        .def("__len__", &Bank::size)
        .def_property_readonly("active", &Bank::active, "Number of slots in use.")
        .def_property_readonly("window", &Bank::window, "Raw values one feature vector needs: diff_n + smooth_n + lag_n.")
        .def_property_readonly("dims", &Bank::dims, "Coordinates of a feature vector: lag_n + 1.")
        .def_property_readonly("diff_n", [](const Bank& b) { return b.params().features.diff_n; })
        .def_property_readonly("smooth_n", [](const Bank& b) { return b.params().features.smooth_n; })
        .def_property_readonly("lag_n", [](const Bank& b) { return b.params().features.lag_n; })
        .def_property_readonly("threshold", [](const Bank& b) { return b.params().threshold; })
        .def_property_readonly("models_per_slot", [](const Bank& b) { return b.params().models; },
                               "Models a slot holds at most (the ring's size; the `models` argument).")
        .def_property_readonly("features", [](const Bank& b) { return pyml::feature_variant_name(b.params().variant); },
                               "'v1' or 'v2': the feature recipe and warm-up.")
        .def_property_readonly("suppression_window", [](const Bank& b) { return b.params().suppression_window; })
        .def_property_readonly("suppression_threshold",
                               [](const Bank& b) { return b.params().suppression_threshold; })
        .def_property_readonly("calibration",
                               [](const Bank& b) { return pyml::calibration_name(b.params().calibration.kind); },
                               "The per-slot rule after the vote: 'none' or 'surprise'.")
        .def_property_readonly("peak_window", [](const Bank& b) { return b.params().calibration.peak_window; })
        .def_property_readonly("memory", [](const Bank& b) { return b.params().calibration.memory; })
        .def_property_readonly("decades", [](const Bank& b) { return b.params().calibration.decades; })
        .def_property_readonly("bit_level", [](const Bank& b) { return b.params().calibration.bit_level; })
        .def_property_readonly("saturation", [](const Bank& b) { return b.params().calibration.saturation; })
        .def_property_readonly("prior_rate", [](const Bank& b) { return b.params().calibration.prior_rate; })
        .def_property_readonly("score_decades", [](const Bank& b) { return b.params().calibration.score_decades; })
        .def_property_readonly("score_warmup", [](const Bank& b) { return b.params().calibration.score_warmup; })
        .def_property_readonly("day_decades", [](const Bank& b) { return b.params().calibration.day_decades; },
                               "The daily profile's decades (0: no daily profile).")
        .def_property_readonly("day_slots", [](const Bank& b) { return b.params().calibration.day_slots; })
        .def_property_readonly("day_ticks_per_slot",
                               [](const Bank& b) { return b.params().calibration.day_ticks_per_slot; })
        .def_property_readonly("day_warmup", [](const Bank& b) { return b.params().calibration.day_warmup; })
        .def_property_readonly("day_memory", [](const Bank& b) { return b.params().calibration.day_memory; })
        .def_property_readonly("day_span", [](const Bank& b) { return b.params().calibration.day_span; })
        .def_property_readonly("day_long_memory", [](const Bank& b) { return b.params().calibration.day_long_memory; })
        .def(
            "calibration_state",
            [](const Bank& b) {
                const std::size_t n = b.size();
                std::vector<pyml::CalibrationState> got(n);
                {
                    py::gil_scoped_release release;
                    b.calibration_state(got.data(), n);
                }
                const auto count = static_cast<py::ssize_t>(n);
                carray<double> rate(count), mean(count), var(count), seen(count), top(count), top_age(count),
                    prev(count), smean(count), svar(count);
                for (std::size_t s = 0; s < n; ++s) {
                    const pyml::CalibrationState& c = got[s];
                    rate.mutable_data()[s] = c.rate;
                    mean.mutable_data()[s] = c.mean;
                    var.mutable_data()[s] = c.var;
                    seen.mutable_data()[s] = static_cast<double>(c.seen);
                    top.mutable_data()[s] = c.top;
                    top_age.mutable_data()[s] = c.top_age == pyml::kNeverReported
                                                    ? std::numeric_limits<double>::infinity()
                                                    : static_cast<double>(c.top_age);
                    prev.mutable_data()[s] = c.prev;
                    smean.mutable_data()[s] = c.smean;
                    svar.mutable_data()[s] = c.svar;
                }
                const std::size_t day_slots = n ? got[0].day_mean.size() : 0;
                carray<double> day_short(count), day_lmean(count), day_lvar(count), day_lseen(count);
                carray<double> day_mean(std::vector<py::ssize_t>{count, static_cast<py::ssize_t>(day_slots)});
                carray<double> day_var(std::vector<py::ssize_t>{count, static_cast<py::ssize_t>(day_slots)});
                carray<double> day_visits(std::vector<py::ssize_t>{count, static_cast<py::ssize_t>(day_slots)});
                for (std::size_t s = 0; s < n; ++s) {
                    const pyml::CalibrationState& c = got[s];
                    day_short.mutable_data()[s] = c.day_short;
                    day_lmean.mutable_data()[s] = c.day_lmean;
                    day_lvar.mutable_data()[s] = c.day_lvar;
                    day_lseen.mutable_data()[s] = static_cast<double>(c.day_lseen);
                    for (std::size_t j = 0; j < day_slots; ++j) {
                        day_mean.mutable_data()[s * day_slots + j] = c.day_mean[j];
                        day_var.mutable_data()[s * day_slots + j] = c.day_var[j];
                        day_visits.mutable_data()[s * day_slots + j] = static_cast<double>(c.day_visits[j]);
                    }
                }
                py::dict out;
                out["rate"] = rate;
                out["mean"] = mean;
                out["var"] = var;
                out["seen"] = seen;
                out["top"] = top;
                out["top_age"] = top_age;
                out["prev"] = prev;
                out["smean"] = smean;
                out["svar"] = svar;
                out["day_short"] = day_short;
                out["day_lmean"] = day_lmean;
                out["day_lvar"] = day_lvar;
                out["day_lseen"] = day_lseen;
                out["day_mean"] = day_mean;
                out["day_var"] = day_var;
                out["day_visits"] = day_visits;
                return out;
            },
            "The calibration state of every slot as float64 arrays of size `size`, keyed as the rule names "
            "them: rate, mean, var, seen, top, top_age (inf: nothing reported yet), prev, smean, svar; the daily "
            "profile's day_short, day_lmean, day_lvar, day_lseen, and day_mean, day_var, day_visits of shape "
            "(size, day_slots) (day_slots 0 without the profile). ValueError for a bank with calibration 'none'.")
        .def(
            "set_calibration_state",
            [](Bank& b, const carray<std::int64_t>& slots, const py::dict& state) {
                const std::size_t n = static_cast<std::size_t>(slots.size());
                if (b.params().calibration.kind == pyml::CalibrationKind::none) {
                    throw std::invalid_argument("this bank has calibration 'none': it keeps no calibration state");
                }
                if (slots.ndim() != 1) throw std::invalid_argument("slots must be 1-D");
                const std::size_t day_slots = static_cast<std::size_t>(b.params().calibration.day_decades > 0.0
                                                                           ? b.params().calibration.day_slots
                                                                           : 0.0);
                // One row per slot: a 1-D field, or (table) a (slots, day_slots) one.
                auto field = [&](const char* name, bool table) {
                    if (!state.contains(name)) {
                        throw std::invalid_argument(std::string("the calibration state has no '") + name + "'");
                    }
                    carray<double> a = py::cast<carray<double>>(state[name]);
                    const bool fits = table ? a.ndim() == 2 && static_cast<std::size_t>(a.shape(0)) == n &&
                                                  static_cast<std::size_t>(a.shape(1)) == day_slots
                                            : a.ndim() == 1 && static_cast<std::size_t>(a.shape(0)) == n;
                    if (!fits) {
                        throw std::invalid_argument(std::string("calibration state '") + name + "' must have shape (" +
                                                    std::to_string(n) +
                                                    (table ? ", " + std::to_string(day_slots) : std::string(",")) +
                                                    "), one row per slot");
                    }
                    return a;
                };
                // A count as the stage keeps it; with inf_is_never, inf is top_age's "nothing reported yet".
                auto counter = [](const char* name, double v, bool inf_is_never) -> std::uint32_t {
                    if (inf_is_never && v == std::numeric_limits<double>::infinity()) return pyml::kNeverReported;
                    if (!(v >= 0.0 && v <= 4294967295.0 && v == std::floor(v))) {
                        throw std::invalid_argument(std::string("calibration state '") + name + "' = " +
                                                    pyml::describe(v) + " must be an integer count in [0, 4294967295]" +
                                                    (inf_is_never ? " or inf" : ""));
                    }
                    return static_cast<std::uint32_t>(v);
                };
                const auto rate = field("rate", false), mean = field("mean", false), var = field("var", false),
                           seen = field("seen", false), top = field("top", false), top_age = field("top_age", false),
                           prev = field("prev", false), smean = field("smean", false), svar = field("svar", false),
                           day_short = field("day_short", false), day_lmean = field("day_lmean", false),
                           day_lvar = field("day_lvar", false), day_lseen = field("day_lseen", false),
                           day_mean = field("day_mean", true), day_var = field("day_var", true),
                           day_visits = field("day_visits", true);
                std::vector<std::size_t> at(n);
                std::vector<pyml::CalibrationState> states(n);
                for (std::size_t i = 0; i < n; ++i) {
                    const std::int64_t slot = slots.data()[i];
                    if (slot < 0) throw std::out_of_range("slot " + std::to_string(slot) + " is negative");
                    at[i] = static_cast<std::size_t>(slot);
                    pyml::CalibrationState& c = states[i];
                    c.rate = rate.data()[i];
                    c.mean = mean.data()[i];
                    c.var = var.data()[i];
                    c.seen = counter("seen", seen.data()[i], false);
                    c.top = top.data()[i];
                    c.top_age = counter("top_age", top_age.data()[i], true);
                    c.prev = prev.data()[i];
                    c.smean = smean.data()[i];
                    c.svar = svar.data()[i];
                    c.day_short = day_short.data()[i];
                    c.day_lmean = day_lmean.data()[i];
                    c.day_lvar = day_lvar.data()[i];
                    c.day_lseen = counter("day_lseen", day_lseen.data()[i], false);
                    for (std::size_t j = 0; j < day_slots; ++j) {
                        c.day_mean.push_back(day_mean.data()[i * day_slots + j]);
                        c.day_var.push_back(day_var.data()[i * day_slots + j]);
                        c.day_visits.push_back(counter("day_visits", day_visits.data()[i * day_slots + j], false));
                    }
                }
                py::gil_scoped_release release;
                b.set_calibration_state(at.data(), states.data(), n);
            },
            py::arg("slots"), py::arg("state"),
            "Give slots[i] row i of `state` (keys and meaning as calibration_state returns them, one row per "
            "slot): a state saved before a restart. ValueError naming the field for a missing key, a wrong "
            "shape or a value the rule cannot hold (or a bank with calibration 'none'), IndexError for a slot "
            "not in use; nothing changes then.")
        .def_property_readonly("warmup", &Bank::warmup,
                               "Consecutive values before a slot's first prediction: window (v1) or window + 1 (v2).")
        .def_property_readonly(
            "kernel", [](const Bank& b) { return b.kernel() == pyml::BankKernel::avx2 ? "avx2" : "baseline"; },
            "The kernel build the tick runs: 'baseline' (SSE2) or 'avx2'; both give identical results.")
        .def_property_readonly("models_consulted", &Bank::models_consulted,
                               "Models visited by votes since the bank was made (Netdata's 'models consulted').")
        .def(
            "status",
            [](const Bank& b) {
                const std::size_t n = b.size();
                carray<std::uint8_t> out(static_cast<py::ssize_t>(n));
                std::uint8_t* p = out.mutable_data();
                {
                    py::gil_scoped_release release;
                    b.status(p, n);
                }
                return out;
            },
            "uint8 array of size `size`: per slot ACTIVE 0x01, TRAINED 0x02, SILENCED 0x04, VARIABLE 0x08 "
            "(0 for free slots).")
        .def(
            "model_counts",
            [](const Bank& b) {
                const std::size_t n = b.size();
                carray<std::uint8_t> out(static_cast<py::ssize_t>(n));
                std::uint8_t* p = out.mutable_data();
                {
                    py::gil_scoped_release release;
                    b.model_counts(p, n);
                }
                return out;
            },
            "uint8 array of size `size`: models each slot holds.")
        .def(
            "suppression_counts",
            [](const Bank& b) {
                const std::size_t n = b.size();
                carray<std::uint32_t> predictions(static_cast<py::ssize_t>(n)), anomalous(static_cast<py::ssize_t>(n));
                std::uint32_t* p = predictions.mutable_data();
                std::uint32_t* a = anomalous.mutable_data();
                {
                    py::gil_scoped_release release;
                    b.suppression_counts(p, a, n);
                }
                return py::make_tuple(predictions, anomalous);
            },
            "(predictions, anomalous): uint32 arrays of size `size`, the suppression counters since their last "
            "reset (zeros when suppression is off).")
        .def(
            "models",
            [](const Bank& b, std::int64_t slot) {
                std::vector<pyml::SlotModel> got;
                {
                    py::gil_scoped_release release;
                    got = b.models(to_slot(slot));
                }
                py::list out;
                for (auto& m : got) out.append(py::make_tuple(std::move(m.model), m.after, m.before));
                return out;
            },
            py::arg("slot"),
            "The slot's models, oldest first, as a list of (Model, after, before), as they score (centres "
            "rounded to float32 when models > 1). IndexError if the slot is not in use.")
        .def(
            "set_models",
            [](Bank& b, std::int64_t slot, const py::sequence& models) {
                std::vector<pyml::SlotModel> ring;
                ring.reserve(models.size());
                for (std::size_t i = 0; i < models.size(); ++i) {
                    const py::object item = models[i];
                    const std::string name = "models[" + std::to_string(i) + "]";
                    if (!py::isinstance<py::tuple>(item) || py::len(item) != 3) {
                        throw py::type_error(name + " must be a tuple (Model, after, before)");
                    }
                    const auto t = item.cast<py::tuple>();
                    if (!py::isinstance<pyml::Model>(t[0])) throw py::type_error(name + "[0] must be a Model");
                    if (!py::isinstance<py::int_>(t[1]) || !py::isinstance<py::int_>(t[2]) ||
                        py::isinstance<py::bool_>(t[1]) || py::isinstance<py::bool_>(t[2])) {
                        throw py::type_error(name + ": after and before must be integers (epoch seconds)");
                    }
                    pyml::SlotModel m;
                    m.model = t[0].cast<pyml::Model>();
                    m.after = ml_uint32(t[1].cast<std::int64_t>(), name + " after");
                    m.before = ml_uint32(t[2].cast<std::int64_t>(), name + " before");
                    ring.push_back(std::move(m));
                }
                py::gil_scoped_release release;
                b.set_models(to_slot(slot), ring);
            },
            py::arg("slot"), py::arg("models"),
            "Replace the slot's models now (restoring persisted ones): a sequence of (Model, after, before), "
            "oldest first, at most `models` of them, each with 2 centres of lag_n + 1 coordinates. TRAINED if "
            "any, SILENCED cleared, suppression counters reset. ValueError/TypeError/IndexError change nothing.")
        .def(
            "queue_model",
            [](Bank& b, std::int64_t slot, const pyml::Model& model, std::int64_t after, std::int64_t before) {
                const std::uint32_t a = ml_uint32(after, "after"), z = ml_uint32(before, "before");
                py::gil_scoped_release release;
                b.queue_model(to_slot(slot), model, a, z);
            },
            py::arg("slot"), py::arg("model"), py::arg("after"), py::arg("before"),
            "Queue a model for the slot as training does (e.g. one received from elsewhere): the next tick "
            "installs it by the ring rule (resetting the suppression counters, clearing SILENCED and VARIABLE), "
            "unless the slot was removed or reused before.")
        .def("add_slot", &Bank::add_slot, py::call_guard<py::gil_scoped_release>(),
             "Add a slot (empty window, no model) and return its number: the lowest free slot, with its "
             "generation incremented, or a new one with generation 0.")
        .def(
            "remove_slot", [](Bank& b, std::int64_t slot) { b.remove_slot(to_slot(slot)); }, py::arg("slot"),
            py::call_guard<py::gil_scoped_release>(),
            "Free a slot (its window and model are dropped). IndexError if it is not in use.")
        .def(
            "__contains__", [](const Bank& b, std::int64_t slot) { return slot >= 0 && b.contains(std::size_t(slot)); },
            py::arg("slot"))
        .def(
            "generation", [](const Bank& b, std::int64_t slot) { return b.generation(to_slot(slot)); },
            py::arg("slot"), py::call_guard<py::gil_scoped_release>(),
            "How many times the slot was reused (0 for a slot never freed). IndexError if it is not in use.")
        .def(
            "trained", [](const Bank& b, std::int64_t slot) { return b.trained(to_slot(slot)); }, py::arg("slot"),
            py::call_guard<py::gil_scoped_release>(), "Whether the slot has a model. IndexError if it is not in use.")
        .def(
            "trained_mask",
            [](const Bank& b) {
                const std::size_t n = b.size();
                carray<bool> out(static_cast<py::ssize_t>(n));
                auto* p = reinterpret_cast<std::uint8_t*>(out.mutable_data());
                {
                    py::gil_scoped_release release;
                    b.trained_mask(p, n);
                }
                return out;
            },
            "bool array of size `size`: whether each slot has a model (False for free slots).")
        .def_property_readonly("trained_count", &Bank::trained_count, "Number of slots with a model.")
        .def(
            "model", [](const Bank& b, std::int64_t slot) { return b.model(to_slot(slot)); }, py::arg("slot"),
            py::call_guard<py::gil_scoped_release>(),
            "The slot's newest model (a copy; the one model with models=1), or None when it holds none. "
            "IndexError if it is not in use.")
        .def(
            "set_model",
            [](Bank& b, std::int64_t slot, const pyml::Model& model) { b.set_model(to_slot(slot), model); },
            py::arg("slot"), py::arg("model"), py::call_guard<py::gil_scoped_release>(),
            "Give the slot this one model now (e.g. restoring a persisted one; set_models with after = before = "
            "0). ValueError unless the model has 2 centres of lag_n + 1 coordinates; IndexError if the slot is "
            "not in use. A model queued by train before this call still joins at the next tick.")
        .def(
            "clear_model", [](Bank& b, std::int64_t slot) { b.clear_model(to_slot(slot)); }, py::arg("slot"),
            py::call_guard<py::gil_scoped_release>(), "Forget the slot's models (it scores 0 until the next one; TRAINED cleared).")
        .def("tick", &bank_tick, py::arg("values").noconvert(), py::kw_only(), py::arg("reset") = py::none(),
             py::arg("want_bits") = false, py::arg("want_scores") = false, py::arg("want_levels") = false,
             py::arg("day_slot") = -1,
             R"doc(One tick of every slot.

values: float64[size], C-contiguous (NaN = no value; free slots ignored).
reset: None, a bool, or bool[1] / bool[size]: the storage word's reset flag.
Returns words uint32[size]; with want_bits, want_scores and/or want_levels, a
tuple (words, bits, scores, levels) holding the requested ones in that order:
bits bool[size] (True = anomalous: the stored bit), scores float64[size]:
without calibration the score of the model that ended the vote as normal,
else the lowest score of the models consulted (NaN if all were NaN), 0 when
there is no prediction (window not full, gap, silenced, free slot) or no
model; with calibration the rule's reported level (0 unless a new peak).
levels float64[size] (calibration only, else ValueError): the calibrated
level before the once-per-incident suppression (0 without a prediction).
day_slot: the tick's slot of the day (0 .. day_slots - 1, from its
timestamp) for the calibration's daily profile; -1 (none): the profile rests
this tick. ValueError beyond day_slots.
Results queued by training are applied first.
The GIL is released while the core works; nothing is allocated per tick.)doc")
        .def("train", &bank_train, py::arg("slots"), py::arg("histories"), py::kw_only(), py::arg("min_samples"),
             py::arg("max_iterations") = 1000, py::arg("threads") = 2, py::arg("after") = std::vector<std::int64_t>(),
             py::arg("before") = std::vector<std::int64_t>(), py::arg("max_vectors") = 0,
             py::arg("seed") = pyml::kDefaultSamplingSeed, py::arg("skip_constant") = false,
             R"doc(Train slots from their histories and queue the models for the next tick.

slots: sequence of ints, each a slot in use, no repeats.
histories: a 2-D float64 array (one row per slot) or a sequence of 1-D
float64 arrays; oldest first, NaN = missing point (leading gaps dropped,
later ones forward-filled), +-inf refused.
min_samples: existing points needed (>= 1); fewer = 'too_few_points' and the
slot keeps its models. max_iterations >= 1; threads in [1, 64].
after, before: one uint32 per slot (or empty: 0), the range each history
covers (epoch seconds), kept with the model for the ring rule.
max_vectors: 0 (every vector) or >= 2: Netdata 2.x's sub-sampling with the
mt19937(seed) table, and its outcomes ('too_few_points' below one vector's
window, 'few_vectors' below 2 kept vectors). skip_constant: slots whose
VARIABLE status is clear are not trained ('constant').
Blocks with the GIL released (run it on a background thread while another
ticks). Everything is validated first: a ValueError/IndexError/TypeError
changes nothing. Returns a TrainReport.)doc")
        .def("pending_models", &Bank::pending_models, "Models queued by training and not yet applied by a tick.")
        .def("training_in_progress", &Bank::training_in_progress,
             "Slots being trained right now by train calls in flight.")
        .def("memory_bytes", &Bank::memory_bytes,
             "Bytes the bank holds (slot state, per-slot arrays, queue capacity).")
        .def("__repr__", [](const Bank& b) {
            const auto& p = b.params();
            std::ostringstream out;
            out << "Bank(diff_n=" << p.features.diff_n << ", smooth_n=" << p.features.smooth_n
                << ", lag_n=" << p.features.lag_n << ", threshold=" << std::string(py::repr(py::float_(p.threshold)));
            if (p.models != 1) out << ", models=" << p.models;
            if (p.variant != pyml::FeatureVariant::v1) out << ", features='" << pyml::feature_variant_name(p.variant) << "'";
            if (p.suppression_window != 0) {
                out << ", suppression_window=" << p.suppression_window
                    << ", suppression_threshold=" << p.suppression_threshold;
            }
            if (p.calibration.kind != pyml::CalibrationKind::none) {
                const auto num = [](double x) { return std::string(py::repr(py::float_(x))); };
                out << ", calibration='" << pyml::calibration_name(p.calibration.kind)
                    << "', peak_window=" << num(p.calibration.peak_window) << ", memory=" << num(p.calibration.memory)
                    << ", decades=" << num(p.calibration.decades) << ", bit_level=" << num(p.calibration.bit_level)
                    << ", saturation=" << num(p.calibration.saturation)
                    << ", prior_rate=" << num(p.calibration.prior_rate);
                if (p.calibration.day_decades != 0.0) {
                    out << ", day_decades=" << num(p.calibration.day_decades)
                        << ", day_slots=" << num(p.calibration.day_slots)
                        << ", day_ticks_per_slot=" << num(p.calibration.day_ticks_per_slot);
                }
                if (p.calibration.score_decades != 0.0) {
                    out << ", score_decades=" << num(p.calibration.score_decades)
                        << ", score_warmup=" << num(p.calibration.score_warmup);
                }
            }
            out << "; " << b.active() << " active of " << b.size() << " slots, " << b.trained_count() << " trained)";
            return out.str();
        });
}

// ---------------------------------------------------------------- Netdata sources

// The bytes of a Python bytes object (a TypeError saying `not_bytes` for anything else).
std::string_view bytes_view(const py::handle& bytes, const char* not_bytes) {
    if (!PyBytes_Check(bytes.ptr())) throw py::type_error(not_bytes);
    char* data = nullptr;
    py::ssize_t size = 0;
    if (PYBIND11_BYTES_AS_STRING_AND_SIZE(bytes.ptr(), &data, &size) != 0) throw py::error_already_set();
    return std::string_view(data, static_cast<std::size_t>(size));
}

py::tuple decoded_arrays(const pyml::AllmetricsValues& decoded) {
    carray<std::int64_t> last_updated(static_cast<py::ssize_t>(decoded.last_updated.size()));
    std::copy(decoded.last_updated.begin(), decoded.last_updated.end(), last_updated.mutable_data());
    carray<double> values(static_cast<py::ssize_t>(decoded.values.size()));
    std::copy(decoded.values.begin(), decoded.values.end(), values.mutable_data());
    return py::make_tuple(last_updated, values);
}

// pyml::AllmetricsDecoder for one source, behind a mutex (decoded without the GIL).
class AllmetricsDecoder {
public:
    py::object decode(const py::bytes& body, const py::bytes& expected_keys) {
        const std::string_view text = bytes_view(body, "body must be bytes");
        const std::string_view expected = bytes_view(expected_keys, "expected_keys must be bytes");
        bool ok = false;
        // held until the arrays are copied out; taken without the GIL, which a waiting caller gives up
        std::unique_lock<std::mutex> hold(mutex_, std::defer_lock);
        {
            py::gil_scoped_release release;
            hold.lock();
            ok = decoder_.decode(text, expected);
        }
        if (!ok) return py::none();
        return decoded_arrays(decoder_.values());
    }

    bool learned() {
        std::lock_guard<std::mutex> hold(mutex_);
        return decoder_.learned();
    }
    std::uint64_t compared() {
        std::lock_guard<std::mutex> hold(mutex_);
        return decoder_.compared();
    }
    std::uint64_t scanned() {
        std::lock_guard<std::mutex> hold(mutex_);
        return decoder_.scanned();
    }
    std::uint64_t learnings() {
        std::lock_guard<std::mutex> hold(mutex_);
        return decoder_.learnings();
    }

private:
    std::mutex mutex_;
    pyml::AllmetricsDecoder decoder_;
};

// (last_updated int64[charts], values float64[dims]) of an allmetrics answer whose keys equal
// `expected_keys`, or its keys as bytes when `expected_keys` is None; None when the answer is outside
// the decoder's shape or its keys differ.
py::object bind_decode_allmetrics(const py::bytes& body, const py::object& expected_keys) {
    const std::string_view text = bytes_view(body, "body must be bytes");
    const bool compare = !expected_keys.is_none();
    const std::string_view expected = compare ? bytes_view(expected_keys, "expected_keys must be bytes or None")
                                              : std::string_view();
    // one decoder state per thread keeps its buffers' capacity from one poll to the next
    thread_local pyml::AllmetricsValues decoded;
    bool ok;
    {
        py::gil_scoped_release release;
        ok = pyml::decode_allmetrics_values(text, decoded) && (!compare || decoded.keys == expected);
    }
    if (!ok) return py::none();
    py::tuple arrays = decoded_arrays(decoded);
    if (compare) return std::move(arrays);
    return py::make_tuple(arrays[0], arrays[1], py::bytes(decoded.keys));
}

void bind_sources(py::module_& m) {
    m.def("decode_allmetrics", &bind_decode_allmetrics, py::arg("body"), py::arg("expected_keys") = py::none(),
          "Netdata's allmetrics JSON decoded for its values alone: (last_updated, values) when its chart and "
          "dimension ids equal expected_keys, (last_updated, values, keys) when expected_keys is None, None "
          "when the answer is outside the common shape or of other keys (decode it in full then).");
    py::class_<AllmetricsDecoder>(m, "AllmetricsDecoder",
                                  "One source's allmetrics decoder: decode() learns the answer it scans and reads "
                                  "the next one by comparing the text between its last_updated and value tokens "
                                  "with the learned one, which is several times cheaper than a scan; an answer "
                                  "that differs elsewhere is scanned and learned again (after a pause of plain "
                                  "scans when learned answers go unused).")
        .def(py::init<>())
        .def("decode", &AllmetricsDecoder::decode, py::arg("body"), py::arg("expected_keys"),
             "(last_updated, values) as decode_allmetrics(body, expected_keys) gives them, or None.")
        .def_property_readonly("learned", &AllmetricsDecoder::learned, "Whether an answer is learned.")
        .def_property_readonly("compared", &AllmetricsDecoder::compared,
                               "Answers read against the learned one.")
        .def_property_readonly("scanned", &AllmetricsDecoder::scanned, "Answers scanned.")
        .def_property_readonly("learnings", &AllmetricsDecoder::learnings,
                               "Answers learned (a source whose answers differ outside their numbers every "
                               "time is learned again only after a growing pause of plain scans).");
    m.attr("ALLMETRICS_CHART_END") = py::bytes(std::string(1, pyml::kChartEnd));
    m.attr("ALLMETRICS_DIMENSION_END") = py::bytes(std::string(1, pyml::kDimensionEnd));
    m.attr("ALLMETRICS_CHART_CLOSE") = py::bytes(std::string(1, pyml::kChartClose));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "pyml's compiled core: storage words, features, k-means, scoring and the dimension bank.";
    bind_storage(m);
    bind_ml(m);
    bind_bank(m);
    bind_sources(m);
}
