// Text of a value for error messages that name it.
#pragma once

#include <sstream>
#include <string>

namespace pyml {

// A double with enough digits (17) to read back as the same value; nan and inf as such.
inline std::string describe(double value) {
    std::ostringstream out;
    out.precision(17);
    out << value;
    return out.str();
}

}  // namespace pyml
