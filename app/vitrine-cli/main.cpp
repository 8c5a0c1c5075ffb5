#include "app/vitrine-cli/cli.h"
#include "core/common/runtime.h"

int main(int argc, char** argv) {
    vitrine::core::ensureFastBlas(argc, argv);
    return vitrine::cli::run(argc, argv);
}
