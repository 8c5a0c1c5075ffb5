// Layering fixture (never compiled): image may include only common.
#include "core/common/files.h"
#include "core/io/atomic_file.h"
