"""Generates cases.jsonl: templates rendered by Python Jinja2 (3.1.x) in the environment that
transformers' chat templates use (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
loopcontrols, transformers' tojson, raise_exception). The Go tests compare against it.

Run: python3 gen_cases.py > cases.jsonl
"""
import json
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def env():
    e = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    e.filters["tojson"] = tojson
    e.globals["raise_exception"] = raise_exception
    return e


MSGS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "  Hi there \n"},
    {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nHello!", "name": "bot"},
    {"role": "user", "content": "Bye"},
]

CASES = [
    # whitespace control
    ("text", "hello", {}),
    ("trailing_newline", "hello\n", {}),
    ("two_trailing_newlines", "hello\n\n", {}),
    ("crlf_source", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter", {}),
    ("lstrip_blocks", "  {% if true %}\n  x\n  {% endif %}\n", {}),
    ("lstrip_not_var", "  {{ 'v' }}\n", {}),
    ("lstrip_mid_line", "a  {% if true %}b{% endif %}  c", {}),
    ("strip_minus", "a   {%- if true -%}   b   {%- endif -%}   c", {}),
    ("strip_minus_var", "a \n {{- 'x' -}} \n b", {}),
    ("plus_disables_lstrip", "  {%+ if true %}x{% endif %}", {}),
    ("plus_disables_trim", "{% if true +%}\nx{% endif %}", {}),
    ("comment", "a {# c #} b\n  {# line #}\nc", {}),
    ("comment_strip", "a {#- c -#} b", {}),
    ("raw", "{% raw %}{{ x }}{% if %}{% endraw %}", {}),
    ("raw_strip", "a  {%- raw -%}  {{x}}  {%- endraw -%}  b", {}),
    ("unicode_space_strip", "a\u3000{{- 'b' -}}\u3000c", {}),
    ("nested_block_indent", "{% for i in [1,2] %}\n    {% if i > 1 %}\n        {{ i }}\n    {% endif %}\n{% endfor %}\n", {}),
    ("lstrip_after_var", "{{ 'x' }}  {% if true %}y{% endif %}|{% if true %}  {% endif %}|", {}),
    ("lstrip_tabs_and_unicode", "a\n\t {% if true %}b{% endif %}\n\u3000{% if true %}c{% endif %}", {}),
    ("trim_after_comment_and_raw", "{# c #}\nx{% raw %}\nr{% endraw %}\ny", {}),
    ("minus_eats_newlines", "a\n\n  {{- 'b' }}\n\n{%- if true -%}\n\n c{%- endif %}", {}),
    ("newline_in_tag", "{%\n  if true\n%}\nx{%\nendif\n-%}\n y", {}),
    ("var_end_strip_then_block", "{{ 'a' -}}\n    {% if true %}\n b{% endif %}", {}),
    # printing values
    ("print_none", "{{ none }}|{{ None }}|{{ true }}|{{ false }}", {}),
    ("print_numbers", "{{ 1 }}|{{ 1.0 }}|{{ 1.5e300 }}|{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 1e-5 }}|{{ 0.0001 }}|{{ -0.0 }}|{{ 10/4 }}|{{ 7//2 }}|{{ -7//2 }}|{{ -7 % 3 }}|{{ 2**10 }}|{{ 2**-1 }}", {}),
    ("print_list", "{{ [1, 'a', none, true, 1.5, [2], {'k': 'v'}] }}", {}),
    ("print_tuple", "{{ (1,) }}|{{ (1, 'b') }}|{{ () }}", {}),
    ("print_dict", "{{ {'a': 1, 'b': 'it\\'s', 'c': \"q\\\"\"} }}", {}),
    ("print_str_repr", "{{ ['a\\nb', 'tab\\t', 'back\\\\', \"it's\", 'both\\'\"', 'é', '\\x01'] }}", {}),
    ("print_undefined", "[{{ nothing }}]", {}),
    ("print_var_dict", "{{ d }}", {"d": {"z": 1, "a": [1, 2]}}),
    ("string_escapes", "{{ 'a\\tb\\\\c\\u00e9\\x41\\n' }}", {}),
    ("adjacent_strings", "{{ 'a' 'b' \"c\" }}", {}),
    # operators
    ("arith", "{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 2 ** 3 ** 2 }}|{{ -2 ** 2 }}|{{ 7 / 2 }}|{{ 3 - -1 }}", {}),
    ("concat", "{{ 1 ~ 'a' ~ none ~ nothing ~ [1] }}", {}),
    ("string_ops", "{{ 'ab' * 3 }}|{{ 'a' + 'b' }}|{{ [1] + [2] }}|{{ [0] * 3 }}", {}),
    ("compare", "{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 'a' < 'b' }}|{{ [1, 2] < [1, 3] }}|{{ 1 == 1.0 }}|{{ true == 1 }}|{{ 'a' != 'a' }}", {}),
    ("in", "{{ 'a' in 'cat' }}|{{ 2 in [1, 2] }}|{{ 'k' in {'k': 1} }}|{{ 'x' not in 'abc' }}|{{ 1 in (1, 2) }}", {}),
    ("and_or_values", "{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ '' and 'b' }}|{{ none or [] }}|{{ not 0 }}|{{ not 'a' }}", {}),
    ("cond_expr", "{{ 'y' if 1 else 'n' }}|{{ 'y' if 0 else 'n' }}|[{{ 'y' if 0 }}]|{{ 'a' if 0 else 'b' if 1 else 'c' }}", {}),
    ("truthiness", "{% for v in [0, 1, '', 'a', [], [0], {}, none, 0.0] %}{{ 'T' if v else 'F' }}{% endfor %}", {}),
    ("not_precedence", "{{ not 1 == 2 }}|{{ not none is none }}|{{ not 'a' in 'abc' }}", {}),
    ("filter_precedence", "{{ -3|abs }}|{{ 'a' ~ 'bc'|upper }}|{{ [1,2,3]|length + 1 }}", {}),
    # variables and scoping
    ("set_basic", "{% set x = 1 %}{% set y, z = 2, 3 %}{{ x }}{{ y }}{{ z }}", {}),
    ("set_in_loop_does_not_leak", "{% set x = 0 %}{% for i in [1, 2, 3] %}{% set x = x + i %}{{ x }},{% endfor %}{{ x }}", {}),
    ("set_in_if_leaks", "{% if true %}{% set x = 5 %}{% endif %}{{ x }}", {}),
    ("namespace", "{% set ns = namespace(total=0, items=[]) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.total }} {{ ns.items }}", {}),
    ("namespace_from_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", {}),
    ("set_block", "{% set x %}  inner {{ 1 + 1 }}\n{% endset %}[{{ x }}]", {}),
    ("set_block_filter", "{% set x | upper | trim %}  abc  {% endset %}[{{ x }}]", {}),
    ("with", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("shadow_var", "{% set messages = messages[1:] %}{{ messages|length }}", {"messages": MSGS}),
    # loops
    ("loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {}),
    ("loop_prev_next", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", {}),
    ("loop_else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("loop_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }},{% endfor %}", {}),
    ("loop_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_dict", "{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}|{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}", {}),
    ("loop_nested_outer", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in [3, 4] %}{{ outer.index }}{{ loop.index }} {% endfor %}{% endfor %}", {}),
    ("loop_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("loop_changed", "{% for x in [1, 1, 2, 2, 3] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}", {}),
    ("loop_recursive", "{% for n in tree recursive %}{{ n.name }}{% if n.children %}({{ loop(n.children) }}){% endif %}{% endfor %}",
     {"tree": [{"name": "a", "children": [{"name": "b", "children": []}, {"name": "c"}]}, {"name": "d"}]}),
    ("loop_reverse_slice", "{% for m in messages[::-1] %}{{ m.role }},{% endfor %}", {"messages": MSGS}),
    ("loop_unpack", "{% for a, b in [[1, 2], (3, 4)] %}{{ a }}{{ b }}{% endfor %}", {}),
    ("range", "{{ range(3)|list }}{{ range(1, 7, 2)|list }}{{ range(5, 0, -2)|list }}", {}),
    # if
    ("if_elif", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %} {% endfor %}", {}),
    # macros
    ("macro", "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}", {}),
    ("macro_varargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", {}),
    ("macro_outer_var", "{% set g = 'G' %}{% macro m() %}{{ g }}{% endmacro %}{{ m() }}", {}),
    ("macro_recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("call_block", "{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inside{% endcall %}", {}),
    ("call_block_args", "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}<{{ v }}>{% endcall %}", {}),
    ("filter_block", "{% filter upper %}hello {{ 'x' }}{% endfilter %}", {}),
    # tests
    ("tests", "{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is iterable }}{{ [] is sequence }}{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}", {"x": 1}),
    ("tests_true_false", "{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 0 is false }}{{ none is not none }}{{ 'A' is upper }}{{ 'a' is lower }}", {}),
    ("tests_compare", "{{ 1 is eq 1 }}{{ 1 is equalto 2 }}{{ 2 is gt 1 }}{{ 1 is lt 2 }}{{ 2 is ge 2 }}{{ 1 is le 0 }}{{ 1 is ne 2 }}{{ 2 is in [1, 2] }}{{ none is sameas none }}{{ false is sameas false }}", {}),
    ("test_callable", "{{ range is callable }}{{ 'x'.upper is callable }}{{ 1 is callable }}", {}),
    ("test_filter_test", "{{ 'upper' is filter }}{{ 'nope' is filter }}{{ 'odd' is test }}", {}),
    # filters
    ("f_trim", "[{{ '  a b \\n'|trim }}][{{ 'xxaxx'|trim('x') }}][{{ '\\u3000a\\u00a0'|trim }}][{{ '\\ufeffa'|trim }}][{{ '\\x1fa\\x85'|trim }}]", {}),
    ("f_length", "{{ 'héllo'|length }}{{ [1, 2]|length }}{{ {'a': 1}|length }}{{ nothing|length }}{{ 'ab'|count }}", {}),
    ("f_first_last", "{{ [1, 2, 3]|first }}{{ [1, 2, 3]|last }}{{ 'abc'|first }}{{ 'abc'|last }}[{{ []|first }}]", {}),
    ("f_join", "{{ [1, 'a', none]|join(', ') }}|{{ ['a', 'b']|join }}|{{ [{'n': 1}, {'n': 2}]|join('-', attribute='n') }}", {}),
    ("f_upper_lower", "{{ 'aBc'|upper }}{{ 'aBc'|lower }}{{ 'hello world-foo'|title }}{{ 'hELLO wORLD'|capitalize }}", {}),
    ("f_replace", "{{ 'aaa'|replace('a', 'b') }}{{ 'aaa'|replace('a', 'b', 2) }}{{ 'abc'|replace('', '-') }}", {}),
    ("f_default", "{{ x|default('d') }}{{ none|default('d') }}{{ ''|default('d', true) }}{{ 0|d('z', boolean=true) }}{{ 'v'|default('d') }}", {}),
    ("f_string_list", "{{ 1|string ~ 'x' }}{{ 'ab'|list }}{{ {'a': 1}|list }}{{ (1, 2)|list }}", {}),
    ("f_items_dictsort", "{{ {'b': 1, 'a': 2}|items|list }}{{ {'b': 1, 'A': 2, 'c': 0}|dictsort }}{{ {'b': 1, 'a': 2}|dictsort(by='value', reverse=true) }}", {}),
    ("f_map_select", "{{ messages|map(attribute='role')|list }}{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }}{{ messages|rejectattr('role', 'eq', 'user')|list|length }}{{ [1, 2, 3, 4]|select('odd')|list }}{{ [1, 0, 2]|select|list }}{{ [1, 2]|reject('even')|list }}{{ ['a', 'b']|map('upper')|list }}",
     {"messages": MSGS}),
    ("f_selectattr_defined", "{{ messages|selectattr('name', 'defined')|map(attribute='name')|list }}{{ messages|selectattr('name')|list|length }}", {"messages": MSGS}),
    ("f_map_default", "{{ messages|map(attribute='name', default='-')|list }}", {"messages": MSGS}),
    ("f_tojson", "{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ 'é\\n\"'|tojson }}|{{ [1.0, 2, none, true]|tojson }}|{{ d|tojson(sort_keys=true) }}|{{ d|tojson(separators=(',', ':')) }}|{{ 'é'|tojson(ensure_ascii=true) }}|{{ {}|tojson(indent=2) }}|{{ [[]]|tojson(indent=1) }}",
     {"d": {"z": [1, {"y": "ü"}], "a": None}}),
    ("f_tojson_emoji_ascii", "{{ '😀'|tojson(ensure_ascii=true) }}{{ '😀\\x7f'|tojson }}", {}),
    ("f_tojson_indent_str", "{{ {'a': [1]}|tojson(indent='\\t') }}", {}),
    ("f_int_float", "{{ '42'|int }}{{ '4.7'|int }}{{ 'x'|int }}{{ 'x'|int(7) }}{{ 3.9|int }}{{ '0x1A'|int(0, 16) }}{{ '3'|float }}{{ 'a'|float }}{{ 2|float }}", {}),
    ("f_round_abs", "{{ 2.5|round }}{{ 3.5|round }}{{ 2.567|round(2) }}{{ 2.1|round(0, 'ceil') }}{{ 2.9|round(method='floor') }}{{ -2|abs }}{{ -2.5|abs }}", {}),
    ("f_sort_unique", "{{ [3, 1, 2]|sort }}{{ ['b', 'A', 'c']|sort }}{{ ['b', 'A', 'c']|sort(case_sensitive=true) }}{{ [3, 1, 2]|sort(reverse=true) }}{{ messages|sort(attribute='role')|map(attribute='role')|list }}{{ ['a', 'A', 'b', 'a']|unique|list }}",
     {"messages": MSGS}),
    ("f_min_max_sum", "{{ [3, 1, 2]|min }}{{ [3, 1, 2]|max }}{{ [1, 2, 3]|sum }}{{ [{'v': 1}, {'v': 2}]|sum(attribute='v') }}{{ ['B', 'a']|max }}", {}),
    ("f_reverse", "{{ 'abc'|reverse }}{{ [1, 2]|reverse|list }}", {}),
    ("f_indent", "[{{ 'a\\nb\\n\\nc'|indent }}][{{ 'a\\nb'|indent(2, true) }}][{{ 'a\\n\\nb'|indent(2, blank=true) }}][{{ 'x'|indent('>') }}]", {}),
    ("f_center_wordcount", "[{{ 'ab'|center(7) }}][{{ 'abc'|center(6) }}]{{ 'hello big world'|wordcount }}", {}),
    ("f_format", "{{ '%s-%d-%05.2f-%r'|format('a', 3, 2.5, 'q') }}{{ '%(a)s'|format(a=1) }}{{ '%x%%'|format(255) }}", {}),
    ("f_truncate", "{{ 'hello world foo bar'|truncate(9) }}|{{ 'hello world foo bar'|truncate(9, true) }}|{{ 'short'|truncate(9) }}|{{ 'hello world foo bar baz'|truncate(12, false, '..', 0) }}", {}),
    ("f_batch_slice", "{{ [1, 2, 3, 4, 5]|batch(2)|list }}{{ [1, 2, 3]|batch(2, 0)|list }}{{ [1, 2, 3, 4, 5]|slice(2)|list }}", {}),
    ("f_escape_safe", "{{ '<a href=\"x\">&</a>'|e }}{{ '<b>'|safe }}{{ '<p>a</p>  <br/>b'|striptags }}", {}),
    ("f_attr_pprint", "{{ {'a': 1}|attr('a') }}|{{ [1, 'a']|pprint }}", {}),
    ("f_groupby", "{% for g in people|groupby('city') %}{{ g.grouper }}:{{ g.list|map(attribute='n')|join(',') }};{% endfor %}",
     {"people": [{"n": "a", "city": "X"}, {"n": "b", "city": "Y"}, {"n": "c", "city": "X"}]}),
    ("f_urlencode", "{{ 'a b&c/é'|urlencode }}", {}),
    # methods
    ("m_strip", "[{{ ' a '.strip() }}][{{ '\\n\\na\\n'.lstrip('\\n') }}][{{ 'xxa'.lstrip('x') }}][{{ 'a\\n\\n'.rstrip('\\n') }}][{{ 'abcba'.strip('ab') }}][{{ '\\u3000a'.lstrip() }}]", {}),
    ("m_split", "{{ 'a,b,,c'.split(',') }}{{ ' a  b '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'a b c'.rsplit(' ', 1) }}{{ 'x</think>y</think>z'.split('</think>')[-1] }}{{ '  a b  '.split(none, 1) }}{{ '  a b  c '.rsplit(none, 1) }}", {}),
    ("m_startswith", "{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x', 'a')) }}{{ 'abc'.startswith('b', 1) }}", {}),
    ("m_case", "{{ 'aB'.upper() }}{{ 'aB'.lower() }}{{ \"they're bill's friends\".title() }}{{ 'hELLO'.capitalize() }}{{ 'aB'.swapcase() }}", {}),
    ("m_find", "{{ 'héllo'.find('l') }}{{ 'hello'.rfind('l') }}{{ 'hello'.find('z') }}{{ 'hello'.count('l') }}{{ 'hello'.index('e') }}", {}),
    ("m_replace_join", "{{ 'aXbXc'.replace('X', '-') }}{{ 'aXbXc'.replace('X', '-', 1) }}{{ ', '.join(['a', 'b']) }}", {}),
    ("m_is", "{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}{{ 'AB'.isupper() }}{{ 'ab'.islower() }}{{ 'a1'.isalnum() }}{{ ''.isdigit() }}", {}),
    ("m_partition_pad", "{{ 'a=b=c'.partition('=') }}{{ 'a=b=c'.rpartition('=') }}{{ '7'.zfill(3) }}{{ 'a'.ljust(3, '.') }}{{ 'a'.rjust(3) }}{{ 'a'.center(4, '*') }}", {}),
    ("m_format", "{{ '{} and {}'.format('a', 'b') }}{{ '{1}{0}'.format('a', 'b') }}{{ '{x}!'.format(x=3) }}{{ '{:>5}|{:<4}|{:^5}|{:.2f}|{:05d}'.format('a', 'b', 'c', 3.14159, 42) }}", {}),
    ("m_splitlines", "{{ 'a\\nb\\r\\nc\\rd'.splitlines() }}{{ 'a\\nb\\n'.splitlines(true) }}", {}),
    ("m_removeprefix", "{{ 'prefix-x'.removeprefix('prefix-') }}{{ 'x.txt'.removesuffix('.txt') }}", {}),
    ("m_dict", "{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 9) }}{{ d.keys()|list }}{{ d.values()|list }}{{ d.items()|list }}", {"d": {"a": 1, "b": 2}}),
    ("m_list", "{{ [1, 2, 2].count(2) }}{{ ['a', 'b'].index('b') }}", {}),
    # attribute and item access
    ("attr_item", "{{ m.role }}{{ m['role'] }}{{ m.get('role') }}[{{ m.missing }}]{{ m.missing is defined }}{{ l[0] }}{{ l[-1] }}[{{ l[5] }}]{{ l.0 }}{{ 'abc'[1] }}{{ 'abc'[-1] }}",
     {"m": {"role": "user"}, "l": [1, 2, 3]}),
    ("attr_dict_method_shadow", "{{ d.items is defined }}{{ d['items'] }}", {"d": {"items": "own"}}),
    ("slices", "{{ l[1:] }}{{ l[:2] }}{{ l[::2] }}{{ l[::-1] }}{{ l[-2:] }}{{ l[1:-1] }}{{ 'héllo'[1:3] }}{{ 'abc'[::-1] }}{{ l[5:] }}{{ l[3:1:-1] }}", {"l": [1, 2, 3, 4, 5]}),
    ("none_attr", "[{{ n.x }}]{{ n.x is defined }}[{{ n['x'] }}]", {"n": None}),
    ("message_content_checks", "{% for m in messages %}{% if m.content is string %}S{% endif %}{% if m.name is defined %}N{% endif %}{% if m['content'] is not none %}C{% endif %}{% endfor %}", {"messages": MSGS}),
    ("dict_literal_order", "{{ {'b': 1, 'a': 2, 'b': 3} }}", {}),
    ("dict_global", "{{ dict(a=1, b=2) }}{{ dict({'x': 1}, y=2) }}", {}),
    # more semantics seen in real chat templates
    ("format_repr_dict", "{{ '%s'|format({'a': 'x', 'b': [1, none]}) }}|{{ '%s'|format('s') }}|{{ '%s'|format(1.5) }}", {}),
    ("items_filtered_loop", "{% for k, v in d.items() if k != 'b' %}{{ k }}={{ v }}{{ loop.length }};{% endfor %}", {"d": {"a": 1, "b": 2, "c": 3}}),
    ("dict_equality", "{{ d == {'a': 1} }}{{ [d] == [{'a': 1.0}] }}{{ (1, 2) == [1, 2] }}{{ m == messages[0] }}", {"d": {"a": 1}, "m": {"role": "system", "content": "Be brief."}, "messages": MSGS}),
    ("filter_condexpr_precedence", "{% for x in [{'a': 1}, 'str', [1]] %}{{ x | tojson | safe if x is mapping or (x is sequence and x is not string) else x | string }};{% endfor %}", {}),
    ("slice_from_loop_index", "{% for m in messages %}{{ messages[loop.index:]|length }}{% endfor %}", {"messages": MSGS}),
    ("not_is_defined", "{{ not x is defined }}{{ not y is defined }}", {"x": 1}),
    ("nested_parts", "{{ messages[0]['content'][0]['text'] }}", {"messages": [{"role": "user", "content": [{"type": "text", "text": "T"}]}]}),
    ("float_printing", "{{ 'a' ~ 1.0 }}|{{ 10 / 3 }}|{{ 1e3 }}|{{ 1_000 }}|{{ 0x1f }}|{{ -1 // 2 }}|{{ 7.5 // 2 }}|{{ -7.5 % 2 }}|{{ true + 1 }}|{{ 2.0 * 3 }}", {}),
    ("unicode_lengths", "{{ 'é'|length }}{{ '👨‍👩‍👧'|length }}{{ '👍🏽'[0] }}{{ 'ｆｕｌｌ'|upper }}{{ 'Straße'|upper }}", {}),
    ("string_compare", "{{ 'abc' < 'abd' }}{{ 'Z' < 'a' }}{{ 'é' > 'z' }}", {}),
    ("undefined_compare", "{{ x == none }}{{ x is none }}{{ x != 1 }}{{ x|default(none) is none }}", {}),
    ("split_space_sep", "{{ '  x  '.split(' ') }}{{ 'a\n\nb'.split('\n') }}", {}),
    ("select_in_test", "{{ messages|selectattr('role', 'in', ['user', 'system'])|list|length }}{{ messages|map(attribute='content')|select('string')|list|length }}{{ range(3)|map('string')|join('-') }}", {"messages": MSGS}),
    ("print_objects", "{{ namespace(a=1) }}|{% macro m() %}{% endmacro %}{{ m }}|{{ loop }}", {}),
    ("loop_else_filtered_out", "{% for x in [1, 2] if x > 5 %}{{ x }}{% else %}none{% endfor %}", {}),
    ("caller_args", "{% macro list(items) %}<ul>{% for i in items %}{{ caller(i, loop.index) }}{% endfor %}</ul>{% endmacro %}{% call(item, n) list(['a', 'b']) %}<li>{{ n }}:{{ item }}</li>{% endcall %}", {}),
    ("macro_default_false", "{% macro m(a, flag=false) %}{{ a }}{{ flag }}{% endmacro %}{{ m(1) }}{{ m(2, true) }}{{ m(3, flag=none) }}", {}),
    ("ws_mixed", "x\n{%- if true %}\n  a\n{%- endif %}\ny\n  {%- for i in [1] -%}\n   {{ i }}  \n  {%- endfor -%}\n  z\n{#- c -#}  w", {}),
    ("braces_in_text", "a { b } c {{ '{' }}{{ \"{{\" }} }} d", {}),
    ("type_first_defined", "{% set t = ['object', 'null'] %}{{ t[0] is defined }}{{ t is iterable and t is not string and t is not mapping }}{{ t|join(' | ') }}", {}),
    ("set_messages_slice_scope", "{% for m in messages %}{% set messages = [] %}{{ messages|length }}{% endfor %}{{ messages|length }}", {"messages": MSGS}),
    ("tojson_nested_indent", "{{ [1, [2, {'a': []}], {}]|tojson(indent=2) }}|{{ {'b': none, 'a': 1}|tojson(sort_keys=true, indent=1) }}", {}),
    ("strip_chars_multi", "{{ '<think>x</think>'.strip('<>/') }}|{{ '\n\n x \n'.strip('\n') }}|{{ 'aaa'.lstrip('a') }}|", {}),
    ("int_conversions", "{{ '  12 '|int }}{{ '1_000'|int }}{{ '-3'|int }}{{ 'nan'|float }}{{ true|int }}{{ none|int }}{{ '1e2'|int }}", {}),
    ("default_chain", "{{ x.y|default('d') if x is defined else 'nox' }}{{ (m.name or 'anon') }}", {"m": {"role": "u"}}),
    ("count_occurrences", "{{ messages|selectattr('role', 'equalto', 'user')|list|count }}", {"messages": MSGS}),
    ("case_tests", "{{ '123' is lower }}{{ 'abc1' is lower }}{{ 'ABC' is upper }}{{ 'Ab' is upper }}{{ 'İx'|lower|length }}{{ ['b', 'A', 'a']|sort }}{{ 'ß'.upper() }}", {}),
    ("generator_truthy_single_use", "{% set g = l|select('odd') %}{{ 'T' if l|select('even')|select('gt', 99) else 'F' }}|{{ g|first }}|{{ g|list }}|{{ g|list }}|{{ 3 in l|reject('odd') }}", {"l": [1, 2, 3, 5]}),
    ("reverse_iterator_single_use", "{% set r = l|reverse %}{{ r|join(',') }}|{{ r|join(',') }}|{{ 'abc'|reverse }}", {"l": [1, 2, 3]}),
    ("lazy_filter_errors", "{% set g = 5|select('odd') %}{% set h = 'x'|items %}ok{{ (1, 2)|map('upper')|list if false }}", {}),
    ("empty_subscript_parses", "{% if false %}{{ x[] }}{% endif %}ok", {}),
    ("float_parity", "{{ 4.0 is even }}{{ 3.0 is odd }}{{ 2.5 is even }}", {}),
    ("truncate_sequences", "{{ [1, 2]|truncate(5) }}{{ 'abcdefghijkl'|truncate(5, leeway=0) }}", {}),
    ("wordcount_unicode", "{{ 'héllo wörld_1 ça-va'|wordcount }}", {}),
    ("err_slice_none", "{{ x[1:] }}", {"x": None}),
    ("err_indent_list", "{{ [1]|indent }}", {}),
    ("err_int_undefined", "{{ nothing|int }}", {}),
    ("err_test_arity", "{{ 1 is integer 2 }}", {}),
    ("err_lazy_consumed", "{{ 5|select('odd')|list }}", {}),
    ("join_numbers", "{{ [1, 2.5, true, none]|join(',') }}|{{ range(3)|join }}", {}),
    # errors
    ("raise", "{% if x %}{{ raise_exception('bad role: ' ~ x) }}{% endif %}ok", {"x": "tool"}),
    ("raise_not_taken", "{% if x %}{{ raise_exception('bad') }}{% endif %}ok", {"x": ""}),
    ("err_undefined_attr", "{{ nothing.attr }}", {}),
    ("err_undefined_add", "{{ nothing + 1 }}", {}),
    ("err_str_plus_int", "{{ 'a' + 1 }}", {}),
    ("err_unknown_filter", "{% if false %}{{ x|nosuchfilter }}{% endif %}", {}),
    ("err_unknown_test", "{% if x is nosuchtest %}{% endif %}", {}),
    ("err_syntax_endfor", "{% for x in y %}", {}),
    ("err_syntax_unknown_tag", "line1\n{% frobnicate %}", {}),
    ("err_syntax_expr", "{{ 1 + }}", {}),
    ("err_unsafe_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("err_list_ns_assign", "{% set l = [] %}{% set l.x = 1 %}", {}),
    ("err_range_too_big", "{{ range(1000000)|length }}", {}),
    ("err_compare", "{{ 1 < 'a' }}", {}),
    ("err_in_string", "{{ 1 in 'abc' }}", {}),
    ("err_not_iterable", "{% for x in 5 %}{% endfor %}", {}),
    ("err_unpack", "{% set a, b = [1, 2, 3] %}", {}),
    ("err_div_zero", "{{ 1 / 0 }}", {}),
]


def main():
    e = env()
    for name, src, variables in CASES:
        rec = {"name": name, "template": src, "vars": variables}
        try:
            rec["rendered"] = e.from_string(src).render(**variables)
        except jinja2.exceptions.TemplateSyntaxError as exc:
            rec["error"] = str(exc.message)
            rec["error_kind"] = "syntax"
            rec["error_line"] = exc.lineno
        except jinja2.exceptions.TemplateError as exc:
            rec["error"] = str(exc.message if exc.message is not None else exc)
            rec["error_kind"] = type(exc).__name__
        except Exception as exc:  # Python errors (TypeError, ...) escape Jinja as they are
            rec["error"] = str(exc)
            rec["error_kind"] = type(exc).__name__
        sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")


main()
