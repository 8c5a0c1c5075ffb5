// vitrine-cli files move|trash|undo|redo|history --data DIR: the GUI's fixes on the command
// line, through the same journaled core::data::FileActions (undoable, crash-safe, never
// outside the data set folder).
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/vitrine-cli/commands.h"
#include "core/common/error.h"
#include "core/data/file_actions.h"

namespace vitrine::cli {

namespace {

nlohmann::json toJson(const core::data::FileAction& a) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : a.files)
        files.push_back({{"from", f.from}, {"to", f.to}});
    return {{"id", a.id},
            {"kind", a.kind == core::data::FileActionKind::Trash ? "trash" : "move"},
            {"state", a.state},
            {"time", a.time},
            {"files", files}};
}

void print(const core::data::FileAction& a, bool json) {
    if (json) {
        std::cout << toJson(a).dump() << '\n';
        return;
    }
    std::cout << "#" << a.id << " " << (a.kind == core::data::FileActionKind::Trash ? "trash" : "move") << " ("
              << a.state << (a.time.empty() ? "" : ", " + a.time) << ")\n";
    for (const auto& f : a.files)
        std::cout << "  " << f.from << " -> " << f.to << '\n';
}

} // namespace

void addFilesCommand(CLI::App& app, CliContext& ctx) {
    struct Opts {
        std::string data, toClass;
        std::vector<std::string> paths;
        std::uint64_t id = 0;
        bool json = false;
    };
    auto opts = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("files", "Move images to another class or to the trash, journaled and undoable");
    cmd->require_subcommand(1);
    cmd->add_option("--data", opts->data, "The data set folder")->required();
    cmd->add_flag("--json", opts->json, "One JSON object per action on stdout");
    auto* move = cmd->add_subcommand("move", "Move images (paths relative to --data) into a class folder");
    move->add_option("--to", opts->toClass, "Class folder, relative to --data (created when missing)")->required();
    move->add_option("paths", opts->paths, "Images to move")->required();
    auto* trash = cmd->add_subcommand("trash", "Move images to the desktop trash");
    trash->add_option("paths", opts->paths, "Images to trash")->required();
    auto* undo = cmd->add_subcommand("undo", "Undo an action (default: the last one done)");
    undo->add_option("id", opts->id, "Action number (see history)");
    auto* redo = cmd->add_subcommand("redo", "Do an undone action again");
    redo->add_option("id", opts->id, "Action number (see history)")->required();
    auto* history = cmd->add_subcommand("history", "Every journaled action, oldest first");
    for (auto* sub : {move, trash, undo, redo, history})
        sub->fallthrough(); // --data and --json may follow the action
    cmd->callback([=, &ctx] {
        core::data::FileActions files(opts->data);
        for (const auto& a : files.recovered().completed)
            std::cerr << "finished action #" << a.id << " (" << a.state << "), interrupted last time\n";
        for (const auto& p : files.recovered().problems)
            std::cerr << "warning: " << p << '\n';
        if (move->parsed()) {
            print(files.moveToClass(opts->paths, opts->toClass), opts->json);
        } else if (trash->parsed()) {
            print(files.trash(opts->paths), opts->json);
        } else if (undo->parsed()) {
            std::uint64_t id = opts->id;
            if (id == 0)
                for (const auto& a : files.history())
                    if (a.state == "done")
                        id = a.id;
            if (id == 0)
                throw core::Error(core::data::journalPath(files.root()), "nothing to undo");
            print(files.undo(id), opts->json);
        } else if (redo->parsed()) {
            print(files.redo(opts->id), opts->json);
        } else {
            for (const auto& a : files.history())
                print(a, opts->json);
        }
        ctx.exitCode = ExitCode::Done;
    });
}

} // namespace vitrine::cli
