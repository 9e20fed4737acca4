"""The Gradio page of the studio: one tab per :class:`~easel.web.tabs.Tab`, and a gallery.

Widgets come from the form fields (:mod:`easel.web.forms`): a checkbox per
flag, a dropdown per choice, number boxes, text for values the CLI reads as text
(``0.05,0``, ``1280x720``); fields of a group the tab does not show unfolded go
under "Advanced". Element ids (``quantize-run``, ``quantize-state`` ...) are
stable for scripts and tests.
"""

# no `from __future__ import annotations`: Gradio reads the `gr.Request` annotations at run time

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from easel.errors import InputError
from easel.web.app import Studio, error_html, gallery_records
from easel.web.forms import FormField
from easel.web.paths import check_uploads
from easel.web.tabs import Tab

__all__ = ["build_page"]

IMAGE_TYPES = ["image"]


def _widget(gr: Any, tab: Tab, f: FormField, shared: set[str]) -> Any:
    # `quantize-n-colors`; a name two options classes of the tab share gets the class too
    name = f"{f.cls.__name__}-{f.name}" if f.name in shared else f.name
    elem_id = f"{tab.name}-{name.replace('_', '-').lower()}"
    info = f.option.spec.help
    label = f.label
    if f.name in shared:  # `--size (fit)`, `--size (render)`: which command line takes it
        step = next((s for s in tab.steps if f.cls in s.options), None)
        label = f"{label} ({step.command[-1] if step is not None else f.cls.__name__})"
    if f.kind == "bool":
        return gr.Checkbox(value=bool(f.initial), label=label, info=info, elem_id=elem_id)
    if f.kind == "choice":
        return gr.Dropdown(choices=list(f.choices), value=f.initial, label=label, info=info, elem_id=elem_id)
    if f.kind in ("int", "float"):
        return gr.Number(
            value=f.initial,
            label=label,
            info=info,
            precision=0 if f.kind == "int" else None,
            elem_id=elem_id,
        )
    return gr.Textbox(
        value="",
        label=label,
        info=info,
        placeholder=f.default_text or "default",
        elem_id=elem_id,
        max_lines=1,
    )


def _upload(gr: Any, tab: Tab, upload: Any) -> Any:
    elem_id = f"{tab.name}-{upload.key}"
    if upload.kind == "image":
        return gr.Image(type="filepath", label=upload.label, sources=["upload", "clipboard"], elem_id=elem_id)
    if upload.kind == "images":
        return gr.File(file_count="multiple", file_types=IMAGE_TYPES, label=upload.label, elem_id=elem_id)
    if upload.kind == "video":
        return gr.Video(label=upload.label, sources=["upload"], elem_id=elem_id)
    if upload.kind == "photos":
        return gr.File(
            file_count="multiple", file_types=[*IMAGE_TYPES, ".zip"], label=upload.label, elem_id=elem_id
        )
    if upload.kind == "colmap":
        return gr.File(
            file_count="multiple", file_types=[".bin", ".txt", ".zip"], label=upload.label, elem_id=elem_id
        )
    from easel.web.tabs import DEPTH_FILE_TYPES

    return gr.File(
        file_count="single", file_types=list(DEPTH_FILE_TYPES), label=upload.label, elem_id=elem_id
    )


def _result(gr: Any, tab: Tab, result: Any) -> Any:
    elem_id = f"{tab.name}-result-{result.key}"
    if result.kind == "image":
        return gr.Image(
            type="filepath",
            label=result.label,
            interactive=False,
            buttons=["download", "fullscreen"],
            elem_id=elem_id,
        )
    if result.kind == "video":
        return gr.Video(label=result.label, interactive=False, elem_id=elem_id)
    return gr.Model3D(label=result.label, elem_id=elem_id, height=360)


def _tab(gr: Any, studio: Studio, tab: Tab) -> None:
    fields = studio.fields[tab.name]
    gr.Markdown(tab.description)
    with gr.Row():
        with gr.Column(scale=1):
            uploads = [_upload(gr, tab, u) for u in tab.uploads]
            widgets: dict[str, Any] = {}
            names = [f.name for f in fields]
            shared = {n for n in names if names.count(n) > 1}
            for f in fields:
                if not f.advanced:
                    widgets[f"{f.cls.__name__}.{f.name}"] = _widget(gr, tab, f, shared)
            if any(f.advanced for f in fields):
                with gr.Accordion("Advanced", open=False, elem_id=f"{tab.name}-advanced"):
                    for f in fields:
                        if f.advanced:
                            widgets[f"{f.cls.__name__}.{f.name}"] = _widget(gr, tab, f, shared)
            with gr.Row():
                run = gr.Button("Run", variant="primary", elem_id=f"{tab.name}-run")
                cancel = gr.Button("Cancel", variant="stop", elem_id=f"{tab.name}-cancel")
        with gr.Column(scale=1):
            status = gr.HTML(f'<div class="easel-status" id="{tab.name}-state" data-state="idle"></div>')
            preview = (
                gr.Image(label="Preview", interactive=False, elem_id=f"{tab.name}-preview")
                if tab.previews
                else None
            )
            shown = [r for r in tab.results if r.kind not in ("file", "folder")]
            result_widgets = [_result(gr, tab, r) for r in shown]
            downloads = gr.File(
                label="Downloads (results and their run record)",
                file_count="multiple",
                interactive=False,
                elem_id=f"{tab.name}-downloads",
            )
            command = gr.Textbox(
                label="The same run from the command line (in the job's folder)",
                lines=max(1, len(tab.steps)),
                interactive=False,
                elem_id=f"{tab.name}-command",
                buttons=["copy"],
            )
    # 3D views get their file in a step of their own after the run (see _show_3d), the rest as it streams
    streamed = [(r, w) for r, w in zip(shown, result_widgets, strict=True) if r.kind != "model3d"]
    views_3d = [(r, w) for r, w in zip(shown, result_widgets, strict=True) if r.kind == "model3d"]
    ended = gr.State(None)
    outputs = [
        status,
        *([preview] if preview is not None else []),
        *[w for _, w in streamed],
        downloads,
        command,
        ended,
    ]
    ordered = [widgets[f"{f.cls.__name__}.{f.name}"] for f in fields]

    def watch(request: gr.Request, *values: Any) -> Iterator[list[Any]]:
        session = getattr(request, "session_hash", None) or "anonymous"
        try:
            check_uploads(values[: len(tab.uploads)], studio.roots)
            items = studio.watch(tab.name, session, list(values))
        except InputError as exc:
            items = iter([{"status": error_html(tab.name, str(exc)), "command": ""}])
        for item in items:
            row: list[Any] = [item.get("status", gr.skip())]
            if preview is not None:
                row.append(str(item["preview"]) if "preview" in item else gr.skip())
            results = item.get("results")
            for r, _ in streamed:
                if results is None:
                    row.append(gr.skip())
                else:
                    path = results.get(r.key)
                    row.append(str(path) if path is not None else None)
            downloads_value = item.get("downloads")
            row.append([str(p) for p in downloads_value] if downloads_value is not None else gr.skip())
            row.append(item["command"] if "command" in item else gr.skip())
            row.append({k: str(p) for k, p in results.items()} if results is not None else gr.skip())
            yield row

    def show_3d(results: dict[str, str] | None) -> Any:
        paths = [(results or {}).get(r.key) for r, _ in views_3d]
        return paths[0] if len(paths) == 1 else paths  # one output takes its value alone

    def stop(request: gr.Request) -> None:
        studio.cancel(tab.name, getattr(request, "session_hash", None) or "anonymous")

    running = run.click(
        watch,
        inputs=[*uploads, *ordered],
        outputs=outputs,
        concurrency_limit=None,
        api_name=f"run_{tab.name}",
    )
    if views_3d:
        # Gradio 6's Model3D drops its viewer when its value is set twice before the viewer's code
        # has loaded, as the last item of a streaming event is (sent, then sent again at the end):
        # no canvas is drawn. Set once, by a plain event after the run, it draws.
        running.then(show_3d, inputs=ended, outputs=[w for _, w in views_3d], api_name=False, queue=False)
    cancel.click(
        stop, inputs=None, outputs=None, concurrency_limit=None, queue=False, api_name=f"cancel_{tab.name}"
    )


def _gallery(gr: Any, studio: Studio) -> tuple[Any, list[Any]]:
    gr.Markdown(f"Past results from the outputs folder `{studio.outputs}` (newest first).")
    refresh = gr.Button("Refresh", elem_id="gallery-refresh")
    images = gr.Gallery(label="Results", columns=4, height="auto", elem_id="gallery-images")
    table = gr.Dataframe(
        headers=["created", "command", "status", "folder", "command line"],
        interactive=False,
        elem_id="gallery-table",
    )

    def listing() -> tuple[list[tuple[str, str]], list[list[str]]]:
        records = gallery_records(studio.outputs)
        pictures = []
        rows = []
        for rec in records:
            folder: Path = rec["folder"]
            status = str(rec.get("status", ""))
            for key, path in rec["files"].items():
                if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
                    pictures.append((str(path), f"{rec['command']} · {key} · {status}"))
                    break
            argvs = rec.get("argvs") or [rec.get("argv") or []]
            rows.append(
                [
                    str(rec.get("created", "")),
                    str(rec["command"]),
                    status,
                    folder.name,
                    " && ".join("easel " + " ".join(str(a) for a in argv) for argv in argvs),
                ]
            )
        return pictures, rows

    refresh.click(listing, outputs=[images, table], api_name="gallery")
    return listing, [images, table]


def build_page(studio: Studio) -> Any:
    """The studio's Gradio ``Blocks`` (not launched).

    Example:
        >>> blocks = build_page(Studio(StudioSettings(Path("outputs/studio"))))  # doctest: +SKIP
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    # uploads older than an hour leave the cache every hour (the jobs have their own copies)
    with gr.Blocks(title="easel studio", analytics_enabled=False, delete_cache=(3600, 3600)) as blocks:
        gr.Markdown("# easel studio")
        with gr.Tabs():
            for tab in studio.settings.tabs:
                with gr.Tab(tab.title, id=tab.name, elem_id=f"tab-{tab.name}"):
                    _tab(gr, studio, tab)
            with gr.Tab("Gallery", id="gallery", elem_id="tab-gallery") as gallery_tab:
                listing, shown = _gallery(gr, studio)
        gallery_tab.select(listing, outputs=shown, api_name=False)
        blocks.load(listing, outputs=shown, api_name=False)

        def forget(request: gr.Request) -> None:
            session = getattr(request, "session_hash", None)
            if session:
                studio.end_session(session)

        blocks.unload(forget)
    return blocks
