#pragma once
// The Inspector: the selected image as the model sees it, with its patch grid and
// per-layer / per-head attention, attention rollout, the DINO mask, token norms and
// patch PCA colours; a small-multiples view of every head; and compare modes (two
// images with patch-to-patch similarity, or one image under two checkpoints with the
// difference). Everything here renders from cached InspectionResults: moving a slider
// never runs the model.

#include <QWidget>

#include <memory>

#include "core/analysis/attention_view.h"
#include "core/analysis/inspection.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;
class QStackedWidget;
class QToolButton;

namespace vitrine::ui {

class ImageCanvas;

using InspectionPtr = std::shared_ptr<const core::analysis::InspectionResult>;

class InspectorPanel : public QWidget {
    Q_OBJECT
public:
    enum class View { Attention, AllHeads, TokenNorms, PatchPca, PatchPcaForeground, HighNormTokens };
    enum class Compare { None, Images, Checkpoints };

    explicit InspectorPanel(QWidget* parent = nullptr);

    /// One image (leaves compare mode).
    void setInspection(InspectionPtr a, const QString& title);
    /// Two images side by side with patch-to-patch similarity.
    void setImagePair(InspectionPtr a, const QString& titleA, InspectionPtr b, const QString& titleB);
    /// One image under two checkpoints, with the difference of their maps.
    void setCheckpointPair(InspectionPtr before, const QString& titleBefore, InspectionPtr after,
                           const QString& titleAfter);
    void setBusy(const QString& message);
    void setError(const QString& message);

    // Controls (tests drive these).
    void setLayer(int layer); ///< 0-based
    void setHead(int index);  ///< combo index: 0 mean, 1 max, 2 min, 3+h head h
    void setRollout(bool on);
    void setMask(bool on);
    void setView(View view);
    void setQueryPatch(int patch); ///< -1 = class token
    QSlider* layerSlider() const { return m_layer; }
    QComboBox* headBox() const { return m_head; }
    QCheckBox* rolloutBox() const { return m_rollout; }
    ImageCanvas* canvasA() const { return m_canvasA; }
    ImageCanvas* canvasB() const { return m_canvasB; }
    Compare compareMode() const { return m_compare; }
    /// The image currently shown in the main canvas (for saving / tests).
    QImage currentImage() const;
    /// Everything visible composed into one image (saved as PNG / copied).
    QImage snapshot() const;
    bool saveSnapshot(const QString& file) const;

Q_SIGNALS:
    void saveRequested();

private:
    void rebuildControls();
    void render();
    /// The High-norm tokens view's explanation: how many, their threshold, the class
    /// token's attention they take, and the registers' norms and shares.
    QString highNormSummary(const core::analysis::InspectionResult& r) const;
    QImage renderAttention(const core::analysis::InspectionResult& r, cv::Mat* mapOut = nullptr) const;
    /// The attention request the controls describe (core's one rule draws it, as the CLI's).
    core::analysis::AttentionView attentionView(const core::analysis::InspectionResult& r) const;
    void updateHoverText(int patch, bool onB);

    InspectionPtr m_a, m_b;
    QString m_titleA, m_titleB;
    Compare m_compare = Compare::None;
    int m_query = -1;

    QComboBox* m_view;
    QSlider* m_layer;
    QLabel* m_layerLabel;
    QComboBox* m_head;
    QCheckBox* m_rollout;
    QDoubleSpinBox* m_discard;
    QCheckBox* m_mask;
    QDoubleSpinBox* m_maskShare;
    QCheckBox* m_grid;
    QComboBox* m_colormap;
    QSlider* m_opacity;
    QComboBox* m_interp;
    QToolButton* m_classToken;
    QLabel* m_status;
    ImageCanvas* m_canvasA;
    ImageCanvas* m_canvasB;
    ImageCanvas* m_canvasDiff;
    bool m_updating = false;
};

} // namespace vitrine::ui
