"""Containers: Sequential (modules applied in order) and ModuleList (a list the walk sees)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from .module import Module


def _check_module(value: Any, where: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(
            f"{where} is a {type(value).__name__}, not a Module; wrap functions in a Module "
            "(e.g. nn.ReLU() instead of autograd_lite.relu)"
        )
    return value


class Sequential(Module):
    """Modules applied one after another: `Sequential(Linear(2, 4), Sigmoid(), Linear(4, 1))`.

    Children are named '0', '1', ... or by the keys of an OrderedDict passed as the one argument.
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            items = modules[0].items()
        else:
            items = ((str(i), m) for i, m in enumerate(modules))
        self._items: dict[str, Module] = {
            name: _check_module(m, f"Sequential: argument {name!r}") for name, m in items
        }

    def _members(self) -> Iterable[tuple[str, Any]]:
        return [*self._items.items(), *vars(self).items()]

    def __getattr__(self, name: str) -> Module:
        # Only reached when normal lookup fails: children named by an OrderedDict's keys.
        items = self.__dict__.get("_items", {})
        if name in items:
            return items[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or child {name!r}")

    def forward(self, x: Any) -> Any:
        for module in self._items.values():
            x = module(x)
        return x

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self._items.values())
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._items.items())[index]))
        return modules[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items.values())

    def append(self, module: Module) -> Sequential:
        self._items[str(len(self._items))] = _check_module(module, "Sequential.append: argument")
        return self


class ModuleList(Module):
    """A list of modules whose parameters the walk finds (a plain Python list hides them)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self._items: list[Module] = []
        self.extend(modules)

    def _members(self) -> Iterable[tuple[str, Any]]:
        return [*((str(i), m) for i, m in enumerate(self._items)), *vars(self).items()]

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        if isinstance(index, slice):
            return ModuleList(self._items[index])
        return self._items[index]

    def __setitem__(self, index: int, module: Module) -> None:
        self._items[index] = _check_module(module, f"ModuleList[{index}] = ...: value")

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)

    def append(self, module: Module) -> ModuleList:
        self._items.append(_check_module(module, "ModuleList.append: argument"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self
