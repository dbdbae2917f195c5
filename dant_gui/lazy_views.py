"""The centre's tabs, each view made when it is first shown or asked for.

Making every view at start cost the window's first paint ~0.6 s: pyqtgraph builds each
plot's axes, view box and context menu at once (17 plots), most of them in tabs the user has
not opened yet. A tab holds an empty page until then; its view is made into the page when the
tab becomes current or when code asks `views[title]`. A view made after a result arrived
catches up with it when it is first shown (views/base.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from PyQt6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from .views.base import ViewBase


class LazyViews(Mapping):
    """title -> view, over the tabs of `tabs` (plus views shown elsewhere, `add_made`).
    Reading an item makes the view if it is not made yet; `made()` lists only those made."""

    def __init__(self, tabs: QTabWidget):
        self.tabs = tabs
        self._make: dict[str, Callable[[], ViewBase]] = {}
        self._pages: dict[str, QWidget] = {}
        self._made: dict[str, ViewBase] = {}
        tabs.currentChanged.connect(self._tab_shown)

    def add_tab(self, title: str, make: Callable[[], ViewBase]) -> None:
        """A tab titled `title` whose view `make()` returns when it is first needed."""
        page = QWidget()
        page.setObjectName(f"page {title}")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self._make[title] = make
        self._pages[title] = page
        self.tabs.addTab(page, title)

    def add_made(self, title: str, view: ViewBase) -> None:
        """A view made by its owner and shown outside the tabs (e.g. the cluster table)."""
        self._made[title] = view

    def is_made(self, title: str) -> bool:
        return title in self._made

    def made(self) -> list[ViewBase]:
        """The views made so far (tab order first), without making the others."""
        return [self._made[t] for t in self if t in self._made]

    def show(self, name: str) -> bool:
        """Make the tab whose title starts with (else contains) `name` current;
        case-insensitive. False when no title matches."""
        titles = [self.tabs.tabText(i).lower() for i in range(self.tabs.count())]
        name = name.lower()
        for match in (str.startswith, str.__contains__):
            for i, title in enumerate(titles):
                if match(title, name):
                    self.tabs.setCurrentIndex(i)
                    return True
        return False

    def current(self) -> ViewBase | None:
        """The view of the current tab (made by now: showing a tab makes its view)."""
        title = self.title_at(self.tabs.currentIndex())
        return None if title is None else self[title]

    def title_at(self, index: int) -> str | None:
        for title, page in self._pages.items():
            if self.tabs.indexOf(page) == index:
                return title
        return None

    def __getitem__(self, title: str) -> ViewBase:
        if title not in self._made:
            if title not in self._make:
                raise KeyError(title)
            self._made[title] = self._put_in_page(title, self._make[title]())
        return self._made[title]

    def __iter__(self) -> Iterator[str]:
        yield from self._make
        yield from (t for t in self._made if t not in self._make)

    def __len__(self) -> int:
        return len(set(self._make) | set(self._made))

    def _put_in_page(self, title: str, view: ViewBase) -> ViewBase:
        page = self._pages[title]
        page.layout().addWidget(view)
        if page.isVisible():
            view.show()  # shown now (it catches up with the result in its showEvent)
        return view

    def _tab_shown(self, index: int) -> None:
        title = self.title_at(index)
        if title is not None:
            self[title]
