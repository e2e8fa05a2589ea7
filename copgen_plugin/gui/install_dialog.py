"""Plugins > COP-GEN > Install dependencies...: the installer with a log and a progress bar.

pip runs in a QgsTask (QGIS's task manager thread), never in the GUI thread; its lines and
progress reach the dialog through Qt signals, which Qt queues into the GUI thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import QgsApplication, QgsTask
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import QObject, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from ..install import deps
from ..install.plan import FLAVOURS
from ..install.sitedir import SiteDir, activate


class _Signals(QObject):
    """Carries the worker's news to the dialog (queued into the GUI thread by Qt)."""

    line = pyqtSignal(str)
    progress = pyqtSignal(float, str)
    done = pyqtSignal(bool, str)


class InstallTask(QgsTask):
    """installer.install in QGIS's task manager; cancellable from the dialog or the task bar."""

    def __init__(self, options: Any, signals: _Signals) -> None:
        super().__init__("COP-GEN: install dependencies", QgsTask.CanCancel)
        self.options = options
        self.signals = signals
        self.message = ""

    def run(self) -> bool:
        from ..errors import Cancelled, CopgenError
        from ..install.installer import install

        def progress(fraction: float, text: str) -> None:
            self.setProgress(100.0 * fraction)
            self.signals.progress.emit(fraction, text)

        try:
            result = install(self.options, log=self.signals.line.emit, progress=progress,
                             cancel=self.isCanceled)
        except Cancelled:
            self.message = "Cancelled: the previous dependency folder is unchanged."
            return False
        except CopgenError as exc:
            self.message = f"Installing the dependencies failed: {exc}"
            return False
        except Exception as exc:  # shown, never lost in a thread
            self.message = f"Unexpected error: {type(exc).__name__}: {exc}"
            return False
        self.message = (f"Done ({result.status}, {result.flavour}, {result.seconds:.0f} s): "
                        f"{result.folder}. Restart QGIS if COP-GEN had already run in this "
                        "session.")
        return True

    def finished(self, ok: bool) -> None:  # GUI thread
        self.signals.done.emit(ok, self.message)


class InstallDialog(QDialog):
    """Options, the folder's state, a live pip log, progress, Install / Cancel / Close."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("COP-GEN: install dependencies")
        self.resize(760, 520)
        self.task: InstallTask | None = None
        self.last_result: tuple[bool, str] | None = None
        self.signals = _Signals()
        self.signals.line.connect(self.append_log)
        self.signals.progress.connect(self._on_progress)
        self.signals.done.connect(self._on_done)

        self.state = QLabel()
        self.state.setWordWrap(True)
        self.flavour = QComboBox()
        self.flavour.addItems(list(FLAVOURS))
        self.flavour.setToolTip("auto: onnxruntime-gpu when nvidia-smi finds an NVIDIA GPU")
        self.index_url = QLineEdit()
        self.index_url.setPlaceholderText("empty: pip's default index (PyPI)")
        self.find_links = QgsFileWidget()
        self.find_links.setStorageMode(QgsFileWidget.GetDirectory)
        self.find_links.setToolTip("A folder of wheels; without an index URL it is the only "
                                   "source (offline install)")
        form = QFormLayout()
        form.addRow("ONNX Runtime build", self.flavour)
        form.addRow("Package index URL", self.index_url)
        form.addRow("Folder of wheels", self.find_links)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(20000)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.install_button = QPushButton("Install")
        self.cancel_button = QPushButton("Cancel install")
        self.cancel_button.setEnabled(False)
        self.buttons.addButton(self.install_button, QDialogButtonBox.ActionRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ActionRole)
        self.install_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.state, form, self.progress, self.log, self.buttons):
            if isinstance(widget, QFormLayout):
                layout.addLayout(widget)
            else:
                layout.addWidget(widget)
        self.refresh_state()

    def refresh_state(self) -> None:
        site = SiteDir.current()
        status = deps.check()
        self.state.setText(
            f"Dependency folder: {site.path} ({site.state()}).\n"
            + ("All run-time packages import." if status.ok
               else status.summary()))

    def options(self) -> Any:
        from ..install.installer import InstallOptions

        links = self.find_links.filePath().strip()
        return InstallOptions(flavour=self.flavour.currentText(),
                              index_url=self.index_url.text().strip() or None,
                              find_links=Path(links) if links else None)

    def start(self) -> None:
        """Queue the install in QGIS's task manager; the dialog stays responsive."""
        if self.task is not None:
            return
        self.log.clear()
        self.progress.setValue(0)
        self.task = InstallTask(self.options(), self.signals)
        self.install_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        QgsApplication.taskManager().addTask(self.task)

    def cancel(self) -> None:
        if self.task is not None:
            self.append_log("cancelling...")
            self.task.cancel()

    def append_log(self, line: str) -> None:
        self.log.appendPlainText(line)

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(100 * fraction))
        self.progress.setFormat(f"%p% {text[:60]}")

    def _on_done(self, ok: bool, message: str) -> None:
        self.task = None
        self.append_log(message)
        self.progress.setValue(100 if ok else self.progress.value())
        self.progress.setFormat("%p% " + ("done" if ok else "failed"))
        self.install_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if ok:
            activate()
        self.refresh_state()
        self.last_result = (ok, message)
