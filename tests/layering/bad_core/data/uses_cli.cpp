// Layering fixture (never compiled): the CLI's commands are the application (app/), not core.
#include "app/vitrine-cli/commands.h"
#include "core/data/dataset.h"
