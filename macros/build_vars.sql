{#
    Reads and validates the dbt vars that select what a build covers. Nothing a user passes is
    pasted into SQL before it has matched a strict pattern, so a var can never change the SQL.
#}
{% macro build_vars() %}
    {%- set run_id = var('run_id', none) -%}
    {%- set start = var('start', none) -%}
    {%- set end = var('end', none) -%}
    {%- set tiers = var('tiers', none) -%}
    {%- if run_id is not none and not modules.re.fullmatch(run_id_pattern(), run_id | string) -%}
        {{ exceptions.raise_compiler_error("var run_id " ~ (run_id | string) ~ " is not a run id (run_YYYYMMDDTHHMMSSffffffZ)") }}
    {%- endif -%}
    {%- for name, value in [('start', start), ('end', end)] -%}
        {%- if value is not none and not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value | string) -%}
            {{ exceptions.raise_compiler_error("var " ~ name ~ " " ~ (value | string) ~ " is not an ISO date (YYYY-MM-DD)") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if tiers is string -%}
        {%- set tiers = [tiers] -%}
    {%- endif -%}
    {%- for tier in (tiers or []) -%}
        {%- if tier not in canonical_tiers() -%}
            {{ exceptions.raise_compiler_error("var tiers: " ~ (tier | string) ~ " is not a canonical tier (" ~ canonical_tiers() | join(', ') ~ ")") }}
        {%- endif -%}
    {%- endfor -%}
    {%- set calc_versions = var('calc_versions', {}) or {} -%}
    {%- if calc_versions is not mapping -%}
        {{ exceptions.raise_compiler_error("var calc_versions must be a map of calc name to version, e.g. {\"liquidity_score\": \"v1\"}; got " ~ (calc_versions | string)) }}
    {%- endif -%}
    {%- for name, versions in calc_versions.items() -%}
        {%- for version in ([versions] if versions is string else versions) -%}
            {%- if not modules.re.fullmatch('v[0-9]+', version | string) -%}
                {{ exceptions.raise_compiler_error("var calc_versions: " ~ (name | string) ~ " " ~ (version | string) ~ " is not a version (v<N>)") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return({'run_id': run_id, 'start': start, 'end': end, 'tiers': tiers}) }}
{% endmacro %}
