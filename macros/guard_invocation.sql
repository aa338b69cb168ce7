{#
    on-run-start of every dbt invocation: refuses, before anything runs, what would lose or
    mislabel published data (DOMAIN.md §3, "dbt's own commands are clients too"). Applies to
    `dbt build` and `dbt run` that select a capture-keyed model:
    - `--empty`: it would replace the views that serve published data (the `_latest` views,
      the captures view) with empty ones;
    - vars that select no capture (an unknown or already published run_id, start after end,
      nothing loaded): dbt would report success and build nothing.
    (Capture-keyed models also never full-refresh: `full_refresh: false` in dbt_project.yml.)
#}
{% macro guard_invocation() %}
    {%- if not execute or flags.WHICH not in ['build', 'run'] -%}
        {{ return('') }}
    {%- endif -%}
    {%- set capture_keyed = [] -%}
    {%- for node in capture_keyed_models() if node.unique_id in selected_resources -%}
        {%- do capture_keyed.append(node.name) -%}
    {%- endfor -%}
    {%- if not capture_keyed -%}
        {{ return('') }}
    {%- endif -%}
    {%- if invocation_args_dict.get('empty') -%}
        {{ exceptions.raise_compiler_error(
            "spine-dbt refuses `dbt " ~ flags.WHICH ~ " --empty`: it would replace the views that serve"
            ~ " published data (the _latest views, finra_otc_transparency_captures) with empty ones."
            ~ " Nothing was changed. To check that the project compiles, run `dbt compile`."
        ) }}
    {%- endif -%}
    {%- if not build_capture_ids() -%}
        {%- set v = build_vars() -%}
        {{ exceptions.raise_compiler_error(
            "the vars select no capture to build (run_id=" ~ v.run_id ~ ", start=" ~ v.start
            ~ ", end=" ~ v.end ~ ", tiers=" ~ v.tiers ~ "): a build covers captures still `loaded`,"
            ~ " and none matches. Nothing was changed. Load files first (`spine-dbt load` prints the"
            ~ " `dbt build` command for them), or run `spine-dbt backfill` (it loads again the weeks"
            ~ " whose captures failed, e.g. after a fix, which `dbt retry` cannot do); `spine-dbt captures"
            ~ " --week <Friday>` shows a week's captures and their status."
        ) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
