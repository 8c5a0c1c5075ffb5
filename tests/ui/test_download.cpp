// Model → Download a Model…, against a server on 127.0.0.1 standing in for the publishers
// (VITRINE_MODEL_MIRROR): a download lands complete and loads by name; a file whose hash is
// not the publisher's, a missing file and a cancelled download leave nothing behind.
// (LibTorch's headers first: glog defines a CHECK that Catch2's must replace.)
#include "core/model/checkpoint.h"
#include "core/model/model_catalogue.h"

#include <catch2/catch.hpp>

#include "../support/wait_for.h"

#include <QDir>
#include <QFile>
#include <QPointer>
#include <QProgressBar>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>

#include "ui/download_dialog.h"

using namespace vitrine::ui;

namespace {

/// HTTP/1.1 GET: path -> body; "/stall..." answers half of a body and keeps the connection open.
class TinyHttpServer : public QTcpServer {
public:
    QMap<QString, QByteArray> files;
    TinyHttpServer() {
        connect(this, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket* s = nextPendingConnection()) {
                connect(s, &QTcpSocket::readyRead, s, [this, s] {
                    // Answer once, when the whole request head has arrived.
                    const QByteArray request = s->property("request").toByteArray() + s->readAll();
                    s->setProperty("request", request);
                    if (!request.contains("\r\n\r\n") || s->property("answered").toBool())
                        return;
                    s->setProperty("answered", true);
                    const QString path = QString::fromLatin1(request.split(' ').value(1));
                    if (!files.contains(path)) {
                        s->write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        s->disconnectFromHost();
                        return;
                    }
                    const QByteArray body = files[path];
                    const bool stall = path.contains(QStringLiteral("stall"));
                    s->write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                             QByteArray::number(stall ? body.size() * 4 : body.size()) +
                             "\r\nConnection: close\r\n\r\n");
                    s->write(body);
                    if (!stall)
                        s->disconnectFromHost();
                });
                connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
    }
};

QByteArray fixture(const char* name) {
    QFile f(QString::fromLatin1(VITRINE_FIXTURES) + "/torch/" + name);
    REQUIRE(f.open(QIODevice::ReadOnly));
    return f.readAll();
}

QString pathOf(const std::string& url) {
    return QString::fromStdString(url.substr(url.find('/', url.find("://") + 3)));
}

} // namespace

TEST_CASE("a model downloads in one click, and a bad or cancelled download leaves nothing", "[ui][download]") {
    QTemporaryDir dir;
    REQUIRE(dir.isValid());
    TinyHttpServer server;
    REQUIRE(server.listen(QHostAddress::LocalHost));
    qputenv("VITRINE_MODEL_MIRROR", "http://127.0.0.1:" + QByteArray::number(server.serverPort()));
    qputenv("VITRINE_MODEL_DIR", dir.path().toUtf8());

    const auto dino = *vitrine::core::model::catalogueEntry("dino-vits16");
    const auto deit = *vitrine::core::model::catalogueEntry("deit-small-16");
    const auto mae = *vitrine::core::model::catalogueEntry("mae-vitb16");
    // The "publishers": a DINO-style teacher checkpoint; for DeiT a file that is not the one
    // its name's hash promises; nothing for MAE.
    server.files[pathOf(dino.url)] = fixture("vit-tiny-dino-teacher.pth");
    server.files[pathOf(deit.url)] = fixture("vit-tiny-timm.pth");

    DownloadDialog dialog;
    QSignalSpy done(&dialog, &DownloadDialog::downloaded);
    QSignalSpy progressed(dialog.progress(), &QProgressBar::valueChanged);
    QSignalSpy failed(&dialog, &DownloadDialog::failed);

    dialog.start(QStringLiteral("dino-vits16"));
    REQUIRE(vitrine::testutil::waitFor([&] { return !dialog.busy(); }, 20000));
    INFO(dialog.statusText().toStdString());
    REQUIRE(done.count() == 1);
    CHECK(progressed.count() > 0); // the progress bar moved
    const QString saved = done.at(0).at(1).toString();
    QFile file(saved);
    REQUIRE(file.open(QIODevice::ReadOnly));
    CHECK(file.readAll() == server.files[pathOf(dino.url)]);
    // It loads by its catalogue name, from the command line as from the window.
    vitrine::core::model::LoadOptions o;
    o.heads = 2;
    const auto loaded = vitrine::core::model::loadModel("dino-vits16", o);
    CHECK(loaded.weightsLoaded);
    CHECK(std::filesystem::path(loaded.source).filename() == dino.file);

    // A file whose SHA-256 does not start with the prefix in DeiT's file name is not kept.
    dialog.start(QStringLiteral("deit-small-16"));
    REQUIRE(vitrine::testutil::waitFor([&] { return !dialog.busy(); }, 20000));
    CHECK(failed.count() == 1);
    CHECK(dialog.statusText().contains(QStringLiteral("cd65a155")));
    // A missing file: the server's 404 is reported.
    dialog.start(QStringLiteral("mae-vitb16"));
    REQUIRE(vitrine::testutil::waitFor([&] { return !dialog.busy(); }, 20000));
    CHECK(failed.count() == 2);
    CHECK(dialog.statusText().contains(QStringLiteral("404")));

    // Cancelled: the server under "/stall" promises four times the body it sends and waits.
    const auto dinov2 = *vitrine::core::model::catalogueEntry("dinov2-vits14");
    qputenv("VITRINE_MODEL_MIRROR", "http://127.0.0.1:" + QByteArray::number(server.serverPort()) + "/stall");
    server.files["/stall" + pathOf(dinov2.url)] = QByteArray(1 << 16, 'x');
    dialog.start(QStringLiteral("dinov2-vits14"));
    CHECK(dialog.busy());
    // Cancelled once the first bytes have arrived (the stalled server sends a quarter).
    REQUIRE(vitrine::testutil::waitFor([&] { return dialog.progress()->value() > 0; }, 20000));
    dialog.cancel();
    REQUIRE(vitrine::testutil::waitFor([&] { return !dialog.busy(); }, 20000));
    CHECK(dialog.statusText().contains(QStringLiteral("Cancelled")));
    // The completed download, its pin, and the cancelled one's part (kept to resume; not a
    // file any loader opens): no temporary, no half file under a model's name.
    const QStringList left = QDir(dir.path()).entryList(QDir::Files | QDir::Hidden, QDir::Name);
    INFO(left.join(", ").toStdString());
    CHECK(left == QStringList{QString::fromStdString(dino.file), QString::fromStdString(dinov2.file) + ".part",
                              QString::fromStdString(dinov2.file) + ".part.json", QStringLiteral("pins.json")});
    CHECK(vitrine::core::model::downloadedModelPath("dinov2-vits14").empty());
    CHECK_THROWS(vitrine::core::model::loadModel("dinov2-vits14", {}));
}
