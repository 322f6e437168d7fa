#!/usr/bin/env python3
"""Regenerates the .lox files of this directory (tests/conformance/limit/).

The limit tests are large but mechanical (hundreds of parameters, locals,
captured variables or literals; loop bodies near the 65535-byte jump limit),
so they are generated rather than written by hand. Run:

    python3 tests/conformance/limit/gen_limits.py

It rewrites every limit test in place; the output is deterministic.

Byte sizes in the jump tests follow the reference encoding of LOX.md (one byte
per opcode, one per constant/slot/argument-count operand, two per jump
offset): the statement `true;` is OP_TRUE + OP_POP = 2 bytes, so
32490 of them plus the loop's own bookkeeping stay about 500 bytes under
65535, and 33000 of them go about 500 bytes over.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def T(path, text):
    assert path.startswith("limit/")
    if not text.endswith("\n"):
        text += "\n"
    with open(os.path.join(HERE, path[len("limit/"):] + ".lox"), "w", encoding="utf-8") as f:
        f.write(text)


def chunks(items, per_line, indent="  "):
    lines = []
    for i in range(0, len(items), per_line):
        lines.append(indent + " ".join(items[i:i + per_line]))
    return lines

def lines_to_text(lines):
    return "\n".join(lines) + "\n"

# ---------------------------------------------------------------- parameters / arguments
params255 = ", ".join(f"p{i}" for i in range(1, 256))
args255 = ", ".join(str(i) for i in range(1, 256))
T("limit/parameters_255_ok", f"""// Tests that a function may have 255 parameters and be called with 255 arguments.
fun wide({params255}) {{
  return p1 + p128 + p255;
}}
print wide({args255}); // expect: 384
""")

params256 = ", ".join(f"p{i}" for i in range(1, 257))
T("limit/parameters_256_error", f"""// Tests that a 256th parameter is a compile error reported at its name.
fun tooWide({params256}) {{}} // Error at 'p256': Can't have more than 255 parameters.
print "never runs";
""")

params_lines = [", ".join(f"q{i}" for i in range(j, j + 16)) for j in range(1, 257, 16)]
# q1..q256 over 16 lines; the line holding q256 is the last one
body = ",\n  ".join(params_lines)
T("limit/parameters_256_error_multiline", "// Tests that the parameter limit error is reported on the line of the 256th parameter.\n"
  "fun tooWide(\n  " + body + " // Error at 'q256': Can't have more than 255 parameters.\n) {}\n")

T("limit/method_parameters_255_ok", f"""// Tests that a method may have 255 parameters (plus the implicit this).
class Wide {{
  take({params255}) {{
    return p255 - p1;
  }}
}}
print Wide().take({args255}); // expect: 254
""")

T("limit/method_parameters_256_error", f"""// Tests that a method with 256 parameters is a compile error.
class Wide {{
  take({params256}) {{}} // Error at 'p256': Can't have more than 255 parameters.
}}
""")

args256 = ", ".join(str(i) for i in range(1, 257))
T("limit/arguments_256_error", f"""// Tests that a call with 256 arguments is a compile error at the 256th argument.
fun f(a) {{}}
f({args256}); // Error at '256': Can't have more than 255 arguments.
""")

argnames256 = ", ".join(f"a{i}" for i in range(1, 257))
T("limit/arguments_256_identifiers_error", f"""// Tests the argument limit with identifier arguments.
var a1 = 1;
fun f() {{}}
f({argnames256}); // Error at 'a256': Can't have more than 255 arguments.
""")

T("limit/arguments_256_method_call_error", f"""// Tests that a method call with 256 arguments is a compile error.
class C {{ m() {{}} }}
var c = C();
c.m({args256}); // Error at '256': Can't have more than 255 arguments.
""")

T("limit/arguments_256_class_call_error", f"""// Tests that constructing with 256 arguments is a compile error.
class C {{}}
C({args256}); // Error at '256': Can't have more than 255 arguments.
""")

T("limit/arguments_255_runtime_arity", f"""// Tests that 255 arguments compile, and a mismatched arity is then a runtime error.
fun one(a) {{ return a; }}
print "start"; // expect: start
one({args255}); // expect runtime error: Expected 1 arguments but got 255.
""")

# ---------------------------------------------------------------- locals
decls255 = [f"var v{i} = true;" for i in range(1, 256)]
T("limit/locals_255_in_function_ok", "// Tests that a function may declare 255 locals (slot 0 is reserved).\n"
  "fun many() {\n" + lines_to_text(chunks(decls255, 8)) +
  "  v255 = \"last\";\n  return v255;\n}\nprint many(); // expect: last\n")

decls256 = [f"var v{i} = true;" for i in range(1, 256)]
T("limit/locals_256_in_function_error", "// Tests that the 256th local of a function is a compile error at its name.\n"
  "fun many() {\n" + lines_to_text(chunks(decls256, 8)) +
  "  var v256 = true; // Error at 'v256': Too many local variables in function.\n}\n")

T("limit/locals_255_top_level_block_ok", "// Tests that a top-level block may declare 255 locals.\n"
  "{\n" + lines_to_text(chunks(decls255, 8)) +
  "  print v1 == v255; // expect: true\n}\n")

T("limit/locals_256_top_level_block_error", "// Tests that the 256th local in a top-level block is a compile error.\n"
  "{\n" + lines_to_text(chunks(decls256, 8)) +
  "  var v256 = true; // Error at 'v256': Too many local variables in function.\n}\n")

params200 = ", ".join(f"p{i}" for i in range(1, 201))
decls55 = [f"var w{i} = true;" for i in range(1, 56)]
T("limit/locals_with_parameters_error", "// Tests that parameters and locals share the 256 slots: 200 parameters leave room for 55 locals.\n"
  f"fun mixed({params200}) {{\n" + lines_to_text(chunks(decls55, 8)) +
  "  var w56 = true; // Error at 'w56': Too many local variables in function.\n}\n")

T("limit/locals_with_parameters_ok", "// Tests 200 parameters plus 55 locals in one function.\n"
  f"fun mixed({params200}) {{\n" + lines_to_text(chunks(decls55, 8)) +
  "  return w55;\n}\n" + "print mixed(" + ", ".join(["nil"] * 200) + "); // expect: true\n")

outer128 = [f"var o{i} = true;" for i in range(1, 129)]
inner127 = [f"var n{i} = true;" for i in range(1, 128)]
T("limit/locals_nested_blocks_error", "// Tests that locals in nested blocks of one function count together.\n"
  "fun nested() {\n" + lines_to_text(chunks(outer128, 8)) + "  {\n" + lines_to_text(chunks(inner127, 8, "    ")) +
  "    var n128 = true; // Error at 'n128': Too many local variables in function.\n  }\n}\n")

sib200a = [f"var s{i} = true;" for i in range(1, 201)]
T("limit/locals_reused_after_scope_ok", "// Tests that locals of a finished block free their slots for a sibling block.\n"
  "fun siblings() {\n  var result = \"\";\n  {\n" + lines_to_text(chunks(sib200a, 8, "    ")) +
  "    if (s200) result = result + \"first \";\n  }\n  {\n" + lines_to_text(chunks(sib200a, 8, "    ")) +
  "    if (s1) result = result + \"second\";\n  }\n  return result;\n}\nprint siblings(); // expect: first second\n")

T("limit/locals_per_function_not_shared", "// Tests that a nested function has its own 256 local slots.\n"
  "fun outer() {\n" + lines_to_text(chunks([f"var x{i} = {i};" for i in range(1, 201)], 8)) +
  "  fun inner() {\n" + lines_to_text(chunks([f"var y{i} = {i};" for i in range(1, 201)], 8, "    ")) +
  "    return y200;\n  }\n  return x200 + inner();\n}\nprint outer(); // expect: 400\n")

# ---------------------------------------------------------------- upvalues
a_decls = [f"var a{i} = {i};" for i in range(1, 201)]
b_decls = [f"var b{i} = {i};" for i in range(1, 61)]
refs256 = [f"a{i}" for i in range(1, 201)] + [f"b{i}" for i in range(1, 57)]
T("limit/upvalues_256_ok", "// Tests that a function may capture 256 variables.\n"
  "{\n" + lines_to_text(chunks(a_decls, 10)) +
  "  fun mid() {\n" + lines_to_text(chunks(b_decls, 10, "    ")) +
  "    fun inner() {\n      return " + " +\n        ".join("(" + " + ".join(refs256[i:i+16]) + ")" for i in range(0, 256, 16)) + ";\n    }\n"
  "    return inner();\n  }\n  print mid(); // expect: 21696\n}\n")

stmts = [f"a{i};" for i in range(1, 201)] + [f"b{i};" for i in range(1, 57)]
T("limit/upvalues_257_error", "// Tests that capturing a 257th variable is a compile error at that reference.\n"
  "{\n" + lines_to_text(chunks(a_decls, 10)) +
  "  fun mid() {\n" + lines_to_text(chunks(b_decls, 10, "    ")) +
  "    fun inner() {\n" + lines_to_text(chunks(stmts, 16, "      ")) +
  "      b57; // Error at 'b57': Too many closure variables in function.\n"
  "    }\n  }\n}\n")

stmts255 = [f"a{i};" for i in range(1, 201)] + [f"b{i};" for i in range(1, 56)]
T("limit/upvalues_257_assignment_target_first", "// Tests that an assignment's target is resolved before its value, as in clox:\n"
  "// in `b56 = b57;` the target is the 256th capture and the value the 257th.\n"
  "{\n" + lines_to_text(chunks(a_decls, 10)) +
  "  fun mid() {\n" + lines_to_text(chunks(b_decls, 10, "    ")) +
  "    fun inner() {\n" + lines_to_text(chunks(stmts255, 16, "      ")) +
  "      b56 = b57; // Error at 'b57': Too many closure variables in function.\n"
  "    }\n  }\n}\n")

stmts_dup = [f"a{i};" for i in range(1, 201)] + [f"b{i};" for i in range(1, 57)] + [f"a{i};" for i in range(1, 201)]
T("limit/upvalues_repeated_references_ok", "// Tests that referencing a captured variable again does not count as a new capture.\n"
  "{\n" + lines_to_text(chunks(a_decls, 10)) +
  "  fun mid() {\n" + lines_to_text(chunks(b_decls, 10, "    ")) +
  "    fun inner() {\n" + lines_to_text(chunks(stmts_dup, 16, "      ")) +
  "      return a1 + b56;\n    }\n    return inner();\n  }\n  print mid(); // expect: 57\n}\n")

# ---------------------------------------------------------------- constants
lit255 = [f"  {i};" for i in range(1, 256)]
T("limit/constants_256_in_function_ok", "// Tests that a function body may hold 256 literals.\n"
  "fun lots() {\n" + "\n".join(lit255) + "\n  return 256;\n}\nprint lots(); // expect: 256\n")

lit256 = [f"  {i};" for i in range(1, 257)]
T("limit/constants_257_in_function_error", "// Tests that the 257th literal in a function body is a compile error at that literal.\n"
  "fun lots() {\n" + "\n".join(lit256) + "\n  257; // Error at '257': Too many constants in one chunk.\n}\n")

rep256 = ["  1;"] * 256
T("limit/constants_repeated_literal_error", "// Tests that repeated literals each count: the 257th copy of 1 is an error.\n"
  "fun same() {\n" + "\n".join(rep256) + "\n  1; // Error at '1': Too many constants in one chunk.\n}\n")

str256 = [f'  "s{i}";' for i in range(1, 257)]
T("limit/constants_257_strings_error", "// Tests that string literals count toward the constant limit.\n"
  "fun words() {\n" + "\n".join(str256) + '\n  "s257"; // Error at \'"s257"\': Too many constants in one chunk.\n}\n')

T("limit/constants_257_in_method_error", "// Tests that the constant limit applies to method bodies.\n"
  "class Big {\n  body() {\n" + "\n".join("  " + l for l in lit256) + "\n    257; // Error at '257': Too many constants in one chunk.\n  }\n}\n")

lit200 = [f"  {i};" for i in range(1, 201)]
T("limit/constants_nested_function_separate_ok", "// Tests that literals in a nested function count only for that function.\n"
  "fun outer() {\n" + "\n".join(lit200) + "\n  fun inner() {\n" + "\n".join("  " + l for l in lit200) +
  "\n    return \"inner\";\n  }\n  return inner();\n}\nprint outer(); // expect: inner\n")

top = ["var total = 0;"] + [f"total = total + {i};" for i in range(1, 401)] + \
      ["var s = \"\";"] + [f's = s + "{c}";' for c in "abcdefghijklmnopqrstuvwxyz" * 2]
T("limit/constants_top_level_unlimited", "// Tests that top-level code has no constant limit (over 450 literals).\n"
  + "\n".join(top) + "\nprint total; // expect: 80200\nprint s; // expect: abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\n")

# ---------------------------------------------------------------- jumps
def trues(n):
    return lines_to_text(chunks(["true;"] * n, 25))

# while body: OP_TRUE OP_POP = 2 bytes per statement
T("limit/loop_body_ok", "// Tests a while body of about 65000 bytes of reference bytecode, under the 65535 limit.\n"
  "var i = 0;\nwhile (i < 1) {\n  i = i + 1;\n" + trues(32490) + "}\nprint i; // expect: 1\n")

T("limit/loop_body_too_large", "// Tests that a while body over 65535 bytes of reference bytecode is a compile error.\n"
  "var i = 0;\nwhile (i < 1) {\n  i = i + 1;\n" + trues(33000) + "} // Error at '}': Loop body too large.\n")

T("limit/for_body_too_large", "// Tests that a for body over 65535 bytes of reference bytecode is a compile error.\n"
  "for (var i = 0; i < 1; i = i + 1) {\n" + trues(33000) + "} // Error at '}': Loop body too large.\n")

T("limit/for_body_ok", "// Tests a for body of about 64000 bytes, under the limit.\n"
  "var count = 0;\nfor (var i = 0; i < 2; i = i + 1) {\n  count = count + 1;\n" + trues(32000) + "}\nprint count; // expect: 2\n")

T("limit/if_then_ok", "// Tests a then-branch of about 65000 bytes, under the jump limit.\n"
  "if (true) {\n" + trues(32490) + "  print \"then\";\n}\nprint \"after\";\n// expect: then\n// expect: after\n")

T("limit/if_then_too_large", "// Tests that a then-branch over 65535 bytes is too much code to jump over.\n"
  "if (true) {\n" + trues(33000) + "} // Error at '}': Too much code to jump over.\n")

T("limit/if_then_too_large_else_in_panic", "// Tests that `Too much code to jump over.`, found when the then-branch ends,\n"
  "// silences the else-branch's first statement, as in clox's one pass.\n"
  "if (true) {\n" + trues(33000) + "} else { // Error at '}': Too much code to jump over.\n"
  "  print 1 2;\n  print 3 4; // Error at '4': Expect ';' after value.\n}\n")

T("limit/else_too_large", "// Tests that an else-branch over 65535 bytes is too much code to jump over.\n"
  "if (false) print \"then\"; else {\n" + trues(33000) + "} // Error at '}': Too much code to jump over.\n")

# ---------------------------------------------------------------- nesting
# The syntax tree may be 256 levels deep (README.md, "Limits beyond LOX.md"):
# a top-level statement is level 1, each grouping, operator, call, property
# or block one more. Reaching level 257 is a fatal `Too much nesting.`: it is
# the last error reported.
def parens(n, inner="1"):
    return "(" * n + inner + ")" * n

T("limit/nesting_parens_254_ok", "// Tests that 254 nested groupings under `print` (256 levels) compile.\n"
  "print " + parens(254) + "; // expect: 1\n")

T("limit/nesting_parens_255_error", "// Tests that a literal at level 257 (255 groupings under `print`) is too deep.\n"
  "print " + parens(255) + "; // Error at '1': Too much nesting.\n")

T("limit/nesting_chain_254_links_ok", "// Tests that a chain of 254 additions under `print` (256 levels) compiles.\n"
  "print " + " + ".join(["1"] * 255) + "; // expect: 255\n")

T("limit/nesting_chain_255_links_error", "// Tests that each link of a left-associative chain is a level: the 255th `+` is too deep.\n"
  "print " + " + ".join(["1"] * 256) + "; // Error at '+': Too much nesting.\n")

T("limit/nesting_call_chain_ok", "// Tests that a chain of 254 calls under `print` (256 levels) compiles.\n"
  "fun f() { return f; }\nprint f" + "()" * 254 + "; // expect: <fn f>\n")

T("limit/nesting_call_chain_error", "// Tests that each call of a chain is a level: the 255th call is too deep.\n"
  "fun f() { return f; }\nprint f" + "()" * 255 + "; // Error at '(': Too much nesting.\n")

T("limit/nesting_blocks_ok", "// Tests that 254 nested blocks around a print statement (256 levels) compile.\n"
  + "{" * 254 + " print \"deep\"; " + "}" * 254 + " // expect: deep\n")

T("limit/nesting_blocks_error", "// Tests that a 257th nested block is too deep, reported at its brace.\n"
  + "{" * 256 + "{ // Error at '{': Too much nesting.\n" + "}" * 257 + "\n")

T("limit/nesting_keeps_earlier_errors", "// Tests that `Too much nesting.` stops the front end: errors before it\n"
  "// are kept, nothing after it is reported.\n"
  "print; // Error at ';': Expect expression.\n"
  "print " + parens(255) + "; // Error at '1': Too much nesting.\n"
  "print;\n"
  "var a = 1 +;\n")

T("limit/nesting_in_panic_mode", "// Tests that `Too much nesting.` is reported even while an earlier error\n"
  "// silences the rest of its declaration.\n"
  "var = // Error at '=': Expect variable name.\n"
  "  " + parens(255) + "; // Error at '1': Too much nesting.\n")

# ---------------------------------------------------------------- stack slots
# A frame may need 1024 stack slots (README.md, "Limits beyond LOX.md"): slot
# 0, parameters, locals and temporaries. In `f` below: slot 0, the locals x
# and y (3), then four nested calls each holding the callee and its
# arguments so far: 3 + 3 * (1 + 254) + 1 + 255 = 1024.
params = ", ".join(f"p{i}" for i in range(1, 256))
xs = ", ".join(["x"] * 254)
def deep_call(extra_locals, last_line_comment):
    return ("fun g(" + params + ") { return p1; }\n"
            "fun f() {\n  var x = 1;\n  var y = 2;\n" + extra_locals +
            "  return g(" + xs + ",\n    g(" + xs + ",\n      g(" + xs + ",\n        g(" + xs + ",\n"
            "          x)))); " + last_line_comment + "\n}\n")

T("limit/stack_slots_1024_ok", "// Tests that a function needing exactly 1024 stack slots compiles and runs.\n"
  + deep_call("", "") + "print f(); // expect: 1\n")

T("limit/stack_slots_1025_error", "// Tests that a function needing 1025 stack slots is a compile error, at the\n"
  "// value whose push goes over the limit.\n"
  + deep_call("  var z = 3;\n", "// Error at 'x': Function needs too many stack slots."))
