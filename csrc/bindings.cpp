// The only file that includes pybind11: argument marshalling, output
// allocation and GIL release around the pure C++ core. Arrays arrive already
// validated and converted by pyml/_arrays.py; every array argument is
// `noconvert`, so nothing is copied or cast silently here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "pyml/storage_number.hpp"

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

void bind_storage(py::module_& m) {
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

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "pyml's compiled core: storage words, features, k-means, scoring and the dimension bank.";
    bind_storage(m);
}
