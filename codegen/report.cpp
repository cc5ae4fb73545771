#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace kiln::cg {

namespace {

std::size_t align_up(std::size_t v) { return (v + arena_alignment - 1) / arena_alignment * arena_alignment; }

report_tensor describe_tensor(const graph& g, const lowered& l, const buffer_plan& plan, tensor_id id) {
  const auto& t = g.at(id);
  report_tensor rt;
  rt.name = t.name;
  rt.type = t.type;
  rt.dims = t.dims;
  rt.bytes = t.bytes();
  const auto alias = l.aliases.find(id);
  const tensor_id storage = alias == l.aliases.end() ? id : alias->second;
  if (t.is_output) rt.location = "output";
  else if (t.is_input) rt.location = "input";
  else if (alias != l.aliases.end()) {
    rt.location = "view";
    rt.view_of = g.at(storage).name;
  } else rt.location = "arena";
  if (auto it = plan.offsets.find(storage); it != plan.offsets.end() && !t.is_output && !t.is_input) rt.offset = it->second;
  return rt;
}

}  // namespace

footprint_report make_report(const compile_result& r, const std::string& model_name) {
  const graph& g = r.g;
  const lowered& l = r.l;
  const buffer_plan& plan = r.plan;
  footprint_report rep;
  rep.model = model_name;
  rep.arena_bytes = plan.arena_bytes;
  for (auto id : g.inputs) {
    rep.inputs.push_back(describe_tensor(g, l, plan, id));
    rep.input_bytes += g.at(id).bytes();
  }
  for (auto id : g.outputs) {
    rep.outputs.push_back(describe_tensor(g, l, plan, id));
    rep.output_bytes += g.at(id).bytes();
  }

  auto storage_of = [&](tensor_id t) {
    auto it = l.aliases.find(t);
    return it == l.aliases.end() ? t : it->second;
  };
  // The planner's lifetimes: first and last layer touching each storage that is not a constant, a
  // graph input or a graph output. first_touch also covers graph outputs, to find who writes them.
  std::map<tensor_id, std::pair<std::size_t, std::size_t>> life;
  std::map<tensor_id, std::size_t> first_touch;
  for (std::size_t step = 0; step < l.layers.size(); ++step)
    for (auto a : l.layers[step].args) {
      if (a == no_tensor || a == scratch_arg) continue;
      const auto s = storage_of(a);
      const auto& t = g.at(s);
      if (t.is_constant() || t.is_input) continue;
      first_touch.try_emplace(s, step);
      if (t.is_output) continue;
      auto [it, fresh] = life.try_emplace(s, step, step);
      if (!fresh) it->second.second = step;
    }
  for (const auto& [s, span] : life) {
    const auto off = plan.offsets.find(s);
    if (off == plan.offsets.end()) throw std::logic_error("report: tensor '" + g.at(s).name + "' has no arena offset");
    rep.buffers.push_back({g.at(s).name, false, off->second, g.at(s).bytes(), span.first, span.second});
  }
  for (std::size_t step = 0; step < l.layers.size(); ++step) {
    if (l.layers[step].scratch_bytes == 0) continue;
    const auto off = plan.scratch_offsets.find(step);
    if (off == plan.scratch_offsets.end()) throw std::logic_error("report: scratch without an arena offset");
    rep.buffers.push_back({fmt::format("scratch of layer {}", step), true, off->second, l.layers[step].scratch_bytes, step, step});
  }
  std::sort(rep.buffers.begin(), rep.buffers.end(), [](const report_buffer& a, const report_buffer& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.offset != b.offset) return a.offset < b.offset;
    return a.name < b.name;
  });
  for (const auto& b : rep.buffers) rep.no_reuse_bytes += align_up(b.bytes);

  // An in-place pair shares its bytes at the one step where the output overwrites the input (the
  // input's last, the output's first): count them once there.
  std::map<std::size_t, std::size_t> shared_at;  // step → bytes counted twice by the buffers
  for (const auto& [out, in] : plan.inplace) {
    const auto lo = life.find(out), li = life.find(in);
    if (lo == life.end() || li == life.end() || lo->second.first != li->second.second)
      throw std::logic_error("report: in-place pair '" + g.at(out).name + "' over '" + g.at(in).name + "' does not meet at one step");
    shared_at[lo->second.first] += g.at(in).bytes();
  }
  std::set<tensor_id> counted_constants;
  for (std::size_t step = 0; step < l.layers.size(); ++step) {
    const auto& ly = l.layers[step];
    report_layer rl;
    rl.index = step;
    rl.op_type = ly.op_type;
    rl.node_name = ly.node_name;
    rl.kernel = ly.kernel;
    rl.macs = ly.macs;
    rl.scratch_bytes = ly.scratch_bytes;
    if (ly.scratch_bytes > 0) rl.scratch_offset = plan.scratch_offsets.at(step);
    std::set<tensor_id> read_here, listed;
    for (std::size_t k = 0; k < ly.args.size(); ++k) {
      const auto a = ly.args[k];
      if (a == no_tensor || a == scratch_arg) continue;
      // Lane-quad copies only some targets keep: left out, as the header's weight_bytes does.
      if (ly.lane_quad_arg(k)) continue;
      if (g.at(a).is_constant()) {  // as used_constants() counts weights: by the argument itself
        if (read_here.insert(a).second) rl.weight_bytes_read += g.at(a).bytes();
        if (counted_constants.insert(a).second) rl.weight_bytes += g.at(a).bytes();
        continue;
      }
      const auto s = storage_of(a);
      const auto ft = first_touch.find(s);
      if (ft != first_touch.end() && ft->second == step && listed.insert(a).second)
        rl.outputs.push_back(describe_tensor(g, l, plan, a));
    }
    for (const auto& b : rep.buffers)
      if (b.first <= step && step <= b.last) rl.live_bytes += b.bytes;
    if (auto sh = shared_at.find(step); sh != shared_at.end()) rl.live_bytes -= sh->second;
    if (rl.live_bytes > rep.arena_lower_bound_bytes) {
      rep.arena_lower_bound_bytes = rl.live_bytes;
      rep.peak_step = step;
    }
    rep.weight_bytes += rl.weight_bytes;
    rep.macs += rl.macs;
    rep.layers.push_back(std::move(rl));
  }
  return rep;
}

// ---------------------------------------------------------------------------------------------
// Markdown

namespace {

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

std::string where(const report_tensor& t) {
  if (t.location == "arena") return t.offset ? fmt::format("@{}", *t.offset) : "arena";
  if (t.location == "view") return t.offset ? fmt::format("view of {} @{}", t.view_of, *t.offset) : "view of " + t.view_of;
  return t.location;
}

template <class F> std::string join(const std::vector<report_tensor>& ts, F&& f) {
  std::string s;
  for (const auto& t : ts) s += (s.empty() ? "" : "<br>") + f(t);
  return s.empty() ? "-" : s;
}

}  // namespace

std::string report_markdown(const footprint_report& rep) {
  std::string s;
  s += fmt::format("# kiln report: {}\n\n", md_cell(rep.model));
  s += fmt::format("{} layer{}. Arena offsets and sizes are in bytes; \"live\" is the arena bytes in use while the "
                   "layer runs (its inputs, outputs, scratch and everything still needed later).\n\n",
                   rep.layers.size(), rep.layers.size() == 1 ? "" : "s");
  s += "| # | op | node | kernel | output | shape | MACs | weights | arena | bytes | live |\n";
  s += "|--:|---|---|---|---|---|--:|--:|---|--:|--:|\n";
  for (const auto& l : rep.layers) {
    std::string weights = fmt::format("{}", l.weight_bytes);
    if (l.weight_bytes_read != l.weight_bytes) weights += fmt::format(" (+{} shared)", l.weight_bytes_read - l.weight_bytes);
    std::string arena = join(l.outputs, [](const report_tensor& t) { return md_cell(where(t)); });
    std::string bytes = join(l.outputs, [](const report_tensor& t) { return fmt::format("{}", t.bytes); });
    if (l.scratch_bytes > 0) {
      arena += fmt::format("<br>scratch @{}", *l.scratch_offset);
      bytes += fmt::format("<br>{}", l.scratch_bytes);
    }
    s += fmt::format("| {} | {} | {} | `{}` | {} | {} | {} | {} | {} | {} | {} |\n", l.index, md_cell(l.op_type),
                     md_cell(l.node_name), md_cell(l.kernel),
                     join(l.outputs, [](const report_tensor& t) { return md_cell(t.name); }),
                     join(l.outputs, [](const report_tensor& t) { return dims_string(t.dims); }), l.macs, weights,
                     arena, bytes, l.live_bytes);
  }
  s += "\n## Totals\n\n| | bytes |\n|---|--:|\n";
  s += fmt::format("| arena (the plan; RAM the caller provides) | {} |\n", rep.arena_bytes);
  s += fmt::format("| arena lower bound (most bytes live at one step: layer {}) | {} |\n", rep.peak_step,
                   rep.arena_lower_bound_bytes);
  s += fmt::format("| arena without reuse (every buffer its own aligned slot) | {} |\n", rep.no_reuse_bytes);
  s += fmt::format("| weights (flash / .rodata) | {} |\n", rep.weight_bytes);
  s += fmt::format("| inputs (caller's buffers) | {} |\n", rep.input_bytes);
  s += fmt::format("| outputs (caller's buffers) | {} |\n", rep.output_bytes);
  s += fmt::format("\nMACs: {}\n", rep.macs);
  if (rep.arena_lower_bound_bytes > 0)
    s += fmt::format("\nThe plan uses {:.1f}% of the no-reuse arena and is {:.1f}% above the lower bound.\n",
                     100.0 * static_cast<double>(rep.arena_bytes) / static_cast<double>(std::max<std::size_t>(rep.no_reuse_bytes, 1)),
                     100.0 * (static_cast<double>(rep.arena_bytes) / static_cast<double>(rep.arena_lower_bound_bytes) - 1.0));
  return s;
}

// ---------------------------------------------------------------------------------------------
// JSON

std::string json_string(const std::string& s) {
  std::string out = "\"";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04x}", c);
          else out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence: copied when well formed (no overlongs or surrogates), else U+FFFD.
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    bool ok = len != 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (p[i + k] & 0xc0) == 0x80;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (ok) ok = !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) && !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  return out + "\"";
}

namespace {

std::string json_dims(const dims_t& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", d[i]);
  return s + "]";
}

std::string json_opt(const std::optional<std::size_t>& v) { return v ? fmt::format("{}", *v) : "null"; }

std::string json_tensor(const report_tensor& t) {
  std::string s = fmt::format("{{\"name\": {}, \"dtype\": {}, \"shape\": {}, \"bytes\": {}, \"location\": {}, \"offset\": {}",
                              json_string(t.name), json_string(dtype_name(t.type)), json_dims(t.dims), t.bytes,
                              json_string(t.location), json_opt(t.offset));
  if (t.location == "view") s += ", \"view_of\": " + json_string(t.view_of);
  return s + "}";
}

std::string json_tensors(const std::vector<report_tensor>& ts) {
  std::string s = "[";
  for (std::size_t i = 0; i < ts.size(); ++i) s += (i ? ", " : "") + json_tensor(ts[i]);
  return s + "]";
}

}  // namespace

std::string report_json(const footprint_report& rep) {
  std::string s = "{\n";
  s += fmt::format("  \"model\": {},\n", json_string(rep.model));
  s += fmt::format("  \"arena_bytes\": {},\n", rep.arena_bytes);
  s += fmt::format("  \"arena_lower_bound_bytes\": {},\n", rep.arena_lower_bound_bytes);
  s += fmt::format("  \"peak_step\": {},\n", rep.peak_step);
  s += fmt::format("  \"no_reuse_bytes\": {},\n", rep.no_reuse_bytes);
  s += fmt::format("  \"weight_bytes\": {},\n", rep.weight_bytes);
  s += fmt::format("  \"input_bytes\": {},\n", rep.input_bytes);
  s += fmt::format("  \"output_bytes\": {},\n", rep.output_bytes);
  s += fmt::format("  \"macs\": {},\n", rep.macs);
  s += fmt::format("  \"inputs\": {},\n", json_tensors(rep.inputs));
  s += fmt::format("  \"outputs\": {},\n", json_tensors(rep.outputs));
  s += "  \"layers\": [";
  for (std::size_t i = 0; i < rep.layers.size(); ++i) {
    const auto& l = rep.layers[i];
    s += fmt::format(
        "{}\n    {{\"index\": {}, \"op_type\": {}, \"node_name\": {}, \"kernel\": {}, \"outputs\": {}, \"macs\": {}, "
        "\"weight_bytes\": {}, \"weight_bytes_read\": {}, \"scratch_bytes\": {}, \"scratch_offset\": {}, \"live_bytes\": {}}}",
        i ? "," : "", l.index, json_string(l.op_type), json_string(l.node_name), json_string(l.kernel),
        json_tensors(l.outputs), l.macs, l.weight_bytes, l.weight_bytes_read, l.scratch_bytes, json_opt(l.scratch_offset),
        l.live_bytes);
  }
  s += rep.layers.empty() ? "],\n" : "\n  ],\n";
  s += "  \"buffers\": [";
  for (std::size_t i = 0; i < rep.buffers.size(); ++i) {
    const auto& b = rep.buffers[i];
    s += fmt::format("{}\n    {{\"name\": {}, \"scratch\": {}, \"offset\": {}, \"bytes\": {}, \"first_step\": {}, \"last_step\": {}}}",
                     i ? "," : "", json_string(b.name), b.scratch ? "true" : "false", b.offset, b.bytes, b.first, b.last);
  }
  s += rep.buffers.empty() ? "]\n" : "\n  ]\n";
  return s + "}\n";
}

// ---------------------------------------------------------------------------------------------
// SVG: arena occupancy over time

namespace {

std::string xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') out += ' ';
        else out += c;
    }
  }
  return out;
}

// 1, 2 or 5 times a power of ten, so that range / step gives at most `ticks` intervals.
std::size_t nice_step(std::size_t range, std::size_t ticks) {
  std::size_t step = 1;
  for (;;) {
    for (std::size_t m : {1, 2, 5})
      if (range <= step * m * ticks) return step * m;
    step *= 10;
  }
}

// Deterministic, distinguishable fills: hues around the wheel by the golden angle.
std::string fill_for(std::size_t i) {
  const double h = std::fmod(static_cast<double>(i) * 137.508, 360.0);
  return fmt::format("hsl({:.0f},60%,{}%)", h, i % 2 ? 62 : 72);
}

}  // namespace

std::string report_svg(const footprint_report& rep) {
  const double left = 90, right = 30, top = 60, bottom = 80, plot_w = 860, plot_h = 440;
  const double width = left + plot_w + right, height = top + plot_h + bottom;
  const std::size_t steps = std::max<std::size_t>(rep.layers.size(), 1);
  const std::size_t y_max = std::max<std::size_t>({rep.arena_bytes, rep.arena_lower_bound_bytes, 1});
  const double col = plot_w / static_cast<double>(steps);
  auto x_of = [&](double step) { return left + step * col; };
  auto y_of = [&](double offset) { return top + plot_h - offset / static_cast<double>(y_max) * plot_h; };

  std::string s;
  s += fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" "
                   "font-family=\"sans-serif\" font-size=\"12\">\n",
                   width, height, width, height);
  s += fmt::format("<rect width=\"{:.0f}\" height=\"{:.0f}\" fill=\"white\"/>\n", width, height);
  s += fmt::format("<text x=\"{:.1f}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Arena occupancy: {}</text>\n", left,
                   xml(rep.model));
  s += fmt::format("<text x=\"{:.1f}\" y=\"42\">arena {} B (plan) · lower bound {} B (layer {}) · no reuse {} B · "
                   "{} buffer{}, {} layer{}</text>\n",
                   left, rep.arena_bytes, rep.arena_lower_bound_bytes, rep.peak_step, rep.no_reuse_bytes,
                   rep.buffers.size(), rep.buffers.size() == 1 ? "" : "s", rep.layers.size(), rep.layers.size() == 1 ? "" : "s");

  // Grid and y ticks.
  const std::size_t ystep = nice_step(y_max, 8);
  for (std::size_t v = 0; v <= y_max; v += ystep) {
    const double y = y_of(static_cast<double>(v));
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e4e4e4\"/>\n", left, y,
                     left + plot_w, y);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 6, y + 4, v);
  }
  // x ticks: one per step when they fit, else every k-th; labels at column centres.
  const std::size_t xstep = nice_step(steps, 30);
  for (std::size_t i = 0; i < steps; i += xstep) {
    const double x = x_of(static_cast<double>(i) + 0.5);
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#444\"/>\n", x, top + plot_h, x,
                     top + plot_h + 4);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x, top + plot_h + 17, i);
  }

  // One rectangle per arena buffer: its lifetime by its [offset, offset + bytes).
  s += "<g stroke=\"#333\" stroke-width=\"0.6\">\n";
  for (std::size_t i = 0; i < rep.buffers.size(); ++i) {
    const auto& b = rep.buffers[i];
    const double x0 = x_of(static_cast<double>(b.first)), x1 = x_of(static_cast<double>(b.last + 1));
    const double y0 = y_of(static_cast<double>(b.offset + b.bytes)), y1 = y_of(static_cast<double>(b.offset));
    const std::string tip = fmt::format("{}: {} bytes at offset {}, layers {}–{}", b.name, b.bytes, b.offset, b.first, b.last);
    s += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"><title>{}</title></rect>\n",
                     x0, y0, x1 - x0, std::max(y1 - y0, 0.5), b.scratch ? "#bdbdbd" : fill_for(i), xml(tip));
    // The name inside the rectangle when it fits (about 6.5 px per character at 11 px).
    std::string label = b.name;
    if (6.5 * static_cast<double>(label.size()) + 6 > x1 - x0 && label.find('/') != std::string::npos)
      label = label.substr(label.rfind('/') + 1);
    if (y1 - y0 >= 14 && x1 - x0 >= 6.5 * static_cast<double>(label.size()) + 6)
      s += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" font-size=\"11\" stroke=\"none\" text-anchor=\"middle\" "
                       "pointer-events=\"none\">{}</text>\n",
                       (x0 + x1) / 2, (y0 + y1) / 2 + 4, xml(label));
  }
  s += "</g>\n";

  // Live bytes per step (its maximum is the lower bound), the lower bound and the plan's arena.
  if (!rep.layers.empty()) {
    std::string pts;
    for (const auto& l : rep.layers) {
      const double y = y_of(static_cast<double>(l.live_bytes));
      pts += fmt::format("{:.2f},{:.2f} {:.2f},{:.2f} ", x_of(static_cast<double>(l.index)), y,
                         x_of(static_cast<double>(l.index + 1)), y);
    }
    pts.pop_back();
    s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2\" "
                     "stroke-opacity=\"0.9\"><title>live bytes per layer</title></polyline>\n",
                     pts);
  }
  const double lb = y_of(static_cast<double>(rep.arena_lower_bound_bytes));
  s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.2f}\" x2=\"{:.1f}\" y2=\"{:.2f}\" stroke=\"#d62728\" stroke-width=\"2\">"
                   "<title>lower bound: {} bytes</title></line>\n",
                   left, lb, left + plot_w, lb, rep.arena_lower_bound_bytes);
  const double ab = y_of(static_cast<double>(rep.arena_bytes));
  s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.2f}\" x2=\"{:.1f}\" y2=\"{:.2f}\" stroke=\"#000\" stroke-width=\"1\" "
                   "stroke-dasharray=\"6,3\"><title>arena: {} bytes</title></line>\n",
                   left, ab, left + plot_w, ab, rep.arena_bytes);
  // Labels of the two lines at the plot's right edge, and a legend under the x axis label.
  if (rep.arena_bytes == rep.arena_lower_bound_bytes)
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.2f}\" text-anchor=\"end\" font-size=\"11\">arena = lower bound = {} B</text>\n",
                     left + plot_w - 4, ab - 4, rep.arena_bytes);
  else {
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.2f}\" text-anchor=\"end\" font-size=\"11\">arena {} B</text>\n",
                     left + plot_w - 4, ab - 4, rep.arena_bytes);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.2f}\" text-anchor=\"end\" font-size=\"11\" fill=\"#d62728\">"
                     "lower bound {} B</text>\n",
                     left + plot_w - 4, lb + 13, rep.arena_lower_bound_bytes);
  }
  const double ly = top + plot_h + 62;
  s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"14\" height=\"10\" fill=\"{}\" stroke=\"#333\" stroke-width=\"0.6\"/>"
                   "<text x=\"{:.1f}\" y=\"{:.1f}\">arena buffer (hover: tensor, bytes, offset, layers)</text>\n",
                   left, ly - 9, fill_for(0), left + 20, ly);
  s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"14\" height=\"10\" fill=\"#bdbdbd\" stroke=\"#333\" stroke-width=\"0.6\"/>"
                   "<text x=\"{:.1f}\" y=\"{:.1f}\">scratch</text>\n",
                   left + 330, ly - 9, left + 350, ly);
  s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#d62728\" stroke-width=\"2\"/>"
                   "<text x=\"{:.1f}\" y=\"{:.1f}\">lower bound</text>\n",
                   left + 420, ly - 4, left + 440, ly - 4, left + 445, ly);
  s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#000\" stroke-dasharray=\"6,3\"/>"
                   "<text x=\"{:.1f}\" y=\"{:.1f}\">arena (plan)</text>\n",
                   left + 540, ly - 4, left + 560, ly - 4, left + 565, ly);
  s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ff7f0e\" stroke-width=\"2\"/>"
                   "<text x=\"{:.1f}\" y=\"{:.1f}\">live bytes per layer</text>\n",
                   left + 665, ly - 4, left + 685, ly - 4, left + 690, ly);

  // Axes and their labels.
  s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" stroke=\"#444\"/>\n", left,
                   top, plot_w, plot_h);
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">step (layer index, execution order)</text>\n",
                   left + plot_w / 2, top + plot_h + 40);
  s += fmt::format("<text transform=\"translate(22 {:.1f}) rotate(-90)\" text-anchor=\"middle\">arena offset (bytes)</text>\n",
                   top + plot_h / 2);
  s += "</svg>\n";
  return s;
}

}  // namespace kiln::cg
