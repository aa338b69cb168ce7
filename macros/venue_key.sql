{#- The venue type (DOMAIN.md §2) of a trimmed, upper-cased summaryTypeCode: ATS or NON_ATS;
    null for an empty or unknown code. -#}
{% macro venue_type(summary_type) -%}
    case {{ summary_type }}
        when 'ATS_W_SMBL_FIRM' then 'ATS'
        when 'OTC_W_SMBL_FIRM' then 'NON_ATS'
        when 'ATS_W_SMBL' then 'ATS'
        when 'ATS_W_FIRM' then 'ATS'
        when 'OTC_W_SMBL' then 'NON_ATS'
        when 'OTC_W_FIRM' then 'NON_ATS'
    end
{%- endmacro %}

{#- True for a FINRA symbol total (summaryTypeCode ATS_W_SMBL or OTC_W_SMBL), which has no venue. -#}
{% macro is_symbol_total(summary_type) -%}
    coalesce({{ summary_type }} in ('ATS_W_SMBL', 'OTC_W_SMBL'), false)
{%- endmacro %}

{#- The venue key (DOMAIN.md §2) from a row's trimmed fields: the MPID; else the De Minimis
    bucket; else a non-ATS firm's CRD number (`CRD<number>`); null for a symbol total. -#}
{% macro venue_key(mpid_text, venue_name, firm_crd, summary_type) -%}
    case
        when coalesce({{ mpid_text }}, '') <> '' then {{ mpid_text }}
        when {{ is_symbol_total(summary_type) }} then null
        when upper(trim({{ venue_name }})) = 'DE MINIMIS FIRMS' then 'DE_MINIMIS'
        when
            coalesce({{ venue_type(summary_type) }}, 'NON_ATS') = 'NON_ATS'
            and {{ full_match(firm_crd, '[0-9]{1,12}') }}
            then 'CRD' || {{ firm_crd }}
    end
{%- endmacro %}

{#- One 64-bit hash of the SQL expressions `exprs` (a list): equal values give equal hashes
    (nulls included); unequal values may collide, so a hash only ever narrows a search that
    an exact comparison then settles. -#}
{% macro key_hash(exprs) %}
    {{- return(adapter.dispatch('key_hash', 'spine_dbt')(exprs)) -}}
{% endmacro %}

{% macro default__key_hash(exprs) -%}
    {%- set parts = [] -%}
    {%- for expr in exprs -%}
        {%- if not loop.first %}{% do parts.append("'|'") %}{% endif -%}
        {%- do parts.append("coalesce(" ~ dbt.cast(expr, api.Column.translate_type('string')) ~ ", '')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{% macro duckdb__key_hash(exprs) -%}
    hash({{ exprs | join(', ') }})
{%- endmacro %}

{% macro spark__key_hash(exprs) -%}
    xxhash64({{ exprs | join(', ') }})
{%- endmacro %}
