// Layering fixture (never compiled): the CLI's commands are the application (app/), not core.
#include "core/data/dataset.h"
#include "app/vitrine-cli/commands.h"
