"""A local Sphinx extension for the course's pages (loaded from ``_config.yml``).

sphinx-thebe 0.3.1 adds its configuration script a second time under Sphinx 7, so each
page declared ``const THEBE_JS_URL`` twice: a script error in every reader's browser
console. This drops repeated scripts from every page before it is written.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = (getattr(script, "filename", script) or "", str(getattr(script, "attributes", "")))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
