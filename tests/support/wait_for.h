#pragma once
// Waiting for something the event loop will bring, inside a Catch2 case. QTest's QTRY_*
// macros report to QTest and `return` from the case, which Catch2 then counts as passed;
// use REQUIRE(waitFor(...)) instead, so a condition that never comes true fails the case.
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QThread>

namespace vitrine::testutil {

/// Processes events until `condition()` holds (true) or `timeoutMs` pass (false).
template <class Condition> bool waitFor(Condition&& condition, int timeoutMs) {
    QElapsedTimer timer;
    timer.start();
    while (!condition()) {
        if (timer.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        QThread::msleep(2);
    }
    return true;
}

} // namespace vitrine::testutil
