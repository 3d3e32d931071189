#include "common/version.h"

namespace aa {

std::string_view Version() { return AA_VERSION; }

}  // namespace aa
