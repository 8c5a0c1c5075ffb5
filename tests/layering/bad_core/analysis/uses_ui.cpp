// Layering fixture (never compiled): nothing in core includes ui/, app/ or Qt.
#include "ui/main_window.h"
#include <QString>
