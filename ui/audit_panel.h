#pragma once
// The Audit panel: what in the open data set needs fixing, found from the current model's
// embeddings (core/analysis/audit.h, the same as `vitrine-cli audit`) — duplicates, leakage
// across the train/validation split or labels, likely mislabels with the suggested class, and
// outliers — and the fixes, done on the files themselves through core/data/file_actions.h:
// move the selected images to the suggested (or another) class folder, or to the desktop
// trash; every fix is journaled and undoable (Undo Fix). The audit and the file actions run
// on a worker; selecting an entry selects the image on the map.

#include <QString>
#include <QVector>
#include <QWidget>

#include <memory>

class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QTreeWidget;
class QTreeWidgetItem;

namespace vitrine::core::analysis {
struct AuditReport;
}

namespace vitrine::ui {

class DatasetModel;
class JobRunner;
class Workspace;

class AuditPanel : public QWidget {
    Q_OBJECT
public:
    AuditPanel(Workspace* workspace, DatasetModel* dataset, QWidget* parent = nullptr);
    ~AuditPanel() override;

    /// Audits the current embeddings (needs a computed map).
    void runAudit();
    /// Moves the selected images to their suggested class (mislabels) or to `classFolder`.
    void moveSelected(const QString& classFolder = QString());
    void trashSelected();
    /// Undoes the last fix.
    void undoLastFix();

    bool busy() const;
    QTreeWidget* tree() const { return m_tree; }
    QString summary() const;
    const core::analysis::AuditReport* report() const { return m_report.get(); }
    JobRunner* runner() const { return m_runner; }

Q_SIGNALS:
    /// A data set row to show (map selection, Inspector, Neighbours).
    void rowActivated(int row);
    /// Per data set row scores for colouring the map ("mislabel score", "outlier score").
    void scoresReady(const QString& name, const QVector<float>& perRow);
    /// Files moved or trashed (or restored): the data set must be read again.
    void filesChanged();

private:
    void showReport();
    void updateButtons();
    /// Data set rows of the selected entries (a group's members for a group).
    QVector<int> selectedRows() const;
    QTreeWidgetItem* addRowItem(QTreeWidgetItem* parent, int row, const QString& detail);

    Workspace* m_workspace;
    DatasetModel* m_dataset;
    JobRunner* m_runner;
    QTreeWidget* m_tree;
    QLabel* m_status;
    QDoubleSpinBox* m_threshold;
    QPushButton* m_run;
    QPushButton* m_cancel;
    QPushButton* m_moveSuggested;
    QPushButton* m_trash;
    QPushButton* m_undoFix;
    std::shared_ptr<core::analysis::AuditReport> m_report;
    /// Data set row of each audited embedding row.
    QVector<int> m_auditRowToDataset;
    QVector<quint64> m_fixes;       ///< journaled action ids, newest last
    QVector<float> m_classDistance; ///< per data set row: cosine distance to its class's mean direction
};

} // namespace vitrine::ui
