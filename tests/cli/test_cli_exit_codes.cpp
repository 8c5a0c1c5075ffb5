// The job contract of vitrine-cli (app/vitrine-cli/exit_codes.h), for several subcommands:
// 0 done, 1 failed, 2 usage error, 130 cancelled by Ctrl-C.
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../train_test_util.h"
#include "cli_run.h"
#include "core/io/atomic_file.h"

namespace fs = std::filesystem;
using vitrine::testutil::cli;
using vitrine::testutil::cliWithCtrlC;
using vitrine::testutil::q;
using vitrine::testutil::TempDir;

namespace {

const std::string kDemo = VITRINE_TEST_DATA;
const std::string kPhoto = kDemo + "/cat/Bengal/Bengal_1.jpg";

} // namespace

TEST_CASE("a wrong command line exits with 2 and does nothing, whatever the subcommand", "[cli][exit-codes]") {
    TempDir tmp("exit-usage");
    const std::string out = q(tmp.path / "out.npy");
    const std::vector<std::string> wrong{
        "",                                                             // no subcommand
        "no-such-command",                                              // unknown subcommand
        "--threads -1 info",                                            // a global value out of range
        "info --no-such-option",                                        // unknown option
        "scan",                                                         // a required positional missing
        "embed --data " + q(kDemo),                                     // --out missing
        "embed --data " + q(kDemo) + " --out " + out + " --batch 0",    // out of range
        "embed --data " + q(kDemo) + " --out " + q(tmp.path / "e.txt"), // no such output type
        "train --data " + q(kDemo) + " --no-such-option",               // unknown option
        "eval --model vit-micro",                                       // --data missing
        "attention --image " + q(kPhoto),                               // --out missing
        "attention --image " + q(kPhoto) + " --out " + q(tmp.path / "a.png") + " --grid --rollout", // exclusive
        "attention --image " + q(kPhoto) + " --out " + q(tmp.path / "a.png") + " --discard-ratio 0.5",
        "patches --image " + q(kPhoto) + " --out " + q(tmp.path / "p.png") + " --pca --norms --compare " + q(kPhoto),
        "project --embeddings " + q(kPhoto) + " --method mds --out " + out, // not a method
        "neighbours --embeddings " + q(kPhoto),                             // --query missing
        "compare --data " + q(kDemo) + " --model vit-micro",                // one model is no comparison
        "select --data " + q(kDemo) + " --csv " + q(tmp.path / "s.csv"),    // which images?
        "models download no-such-model",                                    // not in the catalogue
    };
    for (const auto& args : wrong) {
        const auto r = cli(args, tmp.path);
        INFO("vitrine-cli " << args << "\n" << r.out << r.err);
        CHECK(r.code == 2);
        CHECK_FALSE(r.err.empty()); // says what was wrong
    }
    CHECK_FALSE(fs::exists(tmp.path / "out.npy"));
    CHECK_FALSE(fs::exists(tmp.path / "a.png"));

    // Help and version are not errors.
    CHECK(cli("--help", tmp.path).code == 0);
    CHECK(cli("embed --help", tmp.path).code == 0);
    const auto help = cli("--help", tmp.path);
    CHECK_THAT(help.out, Catch::Contains("130 cancelled"));
}

TEST_CASE("a job that cannot be done exits with 1 and names the file, whatever the subcommand", "[cli][exit-codes]") {
    TempDir tmp("exit-failed");
    // A model path that does not exist, and a file that is no model at all.
    const auto missing = tmp.path / "missing.safetensors";
    const auto garbage = tmp.path / "garbage.safetensors";
    vitrine::core::io::writeFileAtomically(garbage, "this is not a safetensors file\n");
    for (const auto& model : {missing, garbage}) {
        const std::vector<std::string> jobs{
            "info --model " + q(model),
            "embed --model " + q(model) + " --data " + q(kDemo) + " --out " + q(tmp.path / "e.npy"),
            "eval --model " + q(model) + " --data " + q(kDemo),
            "attention --model " + q(model) + " --image " + q(kPhoto) + " --out " + q(tmp.path / "a.png"),
            "patches --model " + q(model) + " --image " + q(kPhoto) + " --pca --out " + q(tmp.path / "p.png"),
            "convert --model " + q(model) + " --out " + q(tmp.path / "c.safetensors"),
            "audit --data " + q(kDemo) + " --model " + q(model),
            "compare --data " + q(kDemo) + " --model " + q(model) + " --model vit-micro",
            "train --data " + q(kDemo) + " --model " + q(model) + " --out " + q(tmp.path / "t.safetensors"),
        };
        for (const auto& args : jobs) {
            const auto r = cli(args, tmp.path);
            INFO("vitrine-cli " << args << "\n" << r.out << r.err);
            CHECK(r.code == 1);
            CHECK_THAT(r.err, Catch::Contains(model.filename().string()));
        }
    }
    for (const auto* written : {"e.npy", "a.png", "p.png", "c.safetensors", "t.safetensors"})
        CHECK_FALSE(fs::exists(tmp.path / written));
}

TEST_CASE("Ctrl-C at the terminal stops a running job with 130, whatever the subcommand", "[cli][exit-codes]") {
    TempDir tmp("exit-cancelled");
    vitrine::testutil::linkFourBreeds(tmp.path / "data", 6);
    const auto tiny = vitrine::testutil::writeTinyModel(tmp.path / "tiny.safetensors");
    struct Job {
        std::vector<std::string> args;
        std::string when; ///< what the terminal shows once the job is running
    };
    const std::vector<Job> jobs{
        // A progress bar on the terminal after the first batch.
        {{"embed", "--model", "vit-micro", "--precision", "fp32", "--batch", "2", "--data", kDemo, "--out",
          (tmp.path / "e.npy").string()},
         "img/s"},
        {{"audit", "--model", "vit-micro", "--batch", "2", "--data", kDemo}, "img/s"},
        {{"compare", "--model", "vit-micro", "--model", tiny.string(), "--data", kDemo}, "img/s"},
        // JSON progress events on the terminal.
        {{"train", "--data", (tmp.path / "data").string(), "--model", tiny.string(), "--out",
          (tmp.path / "t.safetensors").string(), "-P", "4", "-K", "4", "--label-level", "-1", "--epochs", "1000",
          "--json"},
         "\"event\":\"step\""},
    };
    for (const auto& job : jobs) {
        const auto r = cliWithCtrlC(job.args, job.when);
        INFO("vitrine-cli " << job.args.front() << ": " << r.err << "\n" << r.out);
        REQUIRE(r.err == "ctrl-c sent");
        CHECK(r.code == 130);
    }
    CHECK_FALSE(fs::exists(tmp.path / "e.npy")); // embed wrote nothing
}
