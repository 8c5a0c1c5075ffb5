#pragma once
// Where the bundled resources are: installed beside the program
// (<prefix>/share/vitrine) or, when run from a build tree, in the source tree.

#include <QString>

namespace vitrine::ui {

/// The demo data set folder (cat/<Breed>/…, dog/<breed>/…); empty when not found.
QString demoDataDir();
/// The bundled resources folder (demo/, models/); empty when not found.
QString resourcesDir();

} // namespace vitrine::ui
