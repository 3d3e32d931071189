#include "config/go_template.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"
#include "config/internal/syntax.h"

namespace aa::config {
namespace {

constexpr int kMaxDepth = 32;
constexpr char kFunctions[] = "index, len, not, and, or, eq, ne, lt, le, gt, ge";
const std::vector<std::string_view> kFunctionNames = {"index", "len", "not", "and", "or", "eq",
                                                      "ne",    "lt",  "le",  "gt",  "ge"};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

int LineOf(std::string_view text, size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
}

}  // namespace

// An operand or a call inside an action.
struct Expr {
  enum class Kind { kField, kDot, kVar, kString, kInt, kBool, kCall };
  Kind kind = Kind::kDot;
  std::string name;  // field, variable ("$" for the data) or function name; string literal
  int64_t num = 0;
  bool truth = false;
  std::vector<Expr> args;  // kCall
  bool of_data = false;    // kField: `$.Name` (of the data, whatever dot is)
};

struct GoTemplate::Node {
  enum class Kind { kText, kAction, kIf, kRange, kWith };
  Kind kind = Kind::kText;
  std::string text;  // kText
  int line = 1;
  size_t begin = 0, end = 0;      // source span, from "<<" to the closing ">>" (of <<end>>)
  std::vector<std::string> vars;  // declared ($x := ...) or assigned ($x = ...) variables
  bool declare = true;            // := (true) or = (false)
  Expr pipe;
  std::vector<Node> body, else_body;
};

namespace {

using Node = GoTemplate::Node;

// One action of the source: its content without delimiters, trim markers and outer spaces.
struct Action {
  std::string_view content;
  size_t begin = 0, end = 0;
  int line = 1;
};

// The parser: one pass over the source, splitting text and actions, and recursive descent over
// the actions for if/range/with blocks.
class Parser {
 public:
  Parser(std::string_view text, const std::vector<std::string_view>& fields)
      : text_(text), fields_(fields) {}

  absl::StatusOr<std::vector<Node>> Run() {
    std::vector<Node> nodes;
    std::string ended;
    Action end_action;
    auto status = List(0, &nodes, &ended, &end_action);
    if (!status.ok()) return status;
    if (!ended.empty()) {
      return Error(end_action.begin, absl::StrCat("unexpected <<", ended,
                                                  ">> (no if, range or "
                                                  "with to end)"));
    }
    return nodes;
  }

 private:
  absl::Status Error(size_t pos, std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", LineOf(text_, pos), ": ", ToAbsl(what)));
  }
  absl::Status Unsupported(const Action& a, std::string_view why) const {
    std::vector<std::string> names;
    for (std::string_view f : fields_) names.push_back(absl::StrCat("<<.", ToAbsl(f), ">>"));
    return Error(
        a.begin,
        absl::StrCat("unsupported template construct \"",
                     internal::QuoteForMessage(text_.substr(a.begin, a.end - a.begin), 60),
                     "\"; supported here: ", absl::StrJoin(names, ", "),
                     ", if/else/with/range/end, $variables, ", kFunctions, " (", ToAbsl(why), ")"));
  }

  // Reads the text up to the next action (applying trim markers) into `literal` and the action
  // into `action`; false at the end of the source.
  absl::StatusOr<bool> Next(std::string* literal, Action* action) {
    size_t open = text_.find("<<", pos_);
    *literal = std::string(
        text_.substr(pos_, open == std::string_view::npos ? std::string_view::npos : open - pos_));
    if (trim_next_) {
      size_t i = 0;
      while (i < literal->size() && IsSpace((*literal)[i])) ++i;
      literal->erase(0, i);
    }
    trim_next_ = false;
    if (open == std::string_view::npos) {
      pos_ = text_.size();
      return false;
    }
    // The closing ">>", outside quotes and comments.
    size_t i = open + 2;
    char quote = 0;
    bool comment = false;
    size_t close = std::string_view::npos;
    for (; i < text_.size(); ++i) {
      char c = text_[i];
      if (comment) {
        if (c == '*' && i + 1 < text_.size() && text_[i + 1] == '/') {
          comment = false;
          ++i;
        }
      } else if (quote != 0) {
        if (c == '\\' && quote == '"') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
      } else if (c == '"' || c == '`') {
        quote = c;
      } else if (c == '/' && i + 1 < text_.size() && text_[i + 1] == '*') {
        comment = true;
        ++i;
      } else if (c == '>' && i + 1 < text_.size() && text_[i + 1] == '>') {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos) {
      return Error(open, absl::StrCat("unterminated template action \"",
                                      internal::QuoteForMessage(text_.substr(open), 40), "\""));
    }
    std::string_view content = text_.substr(open + 2, close - open - 2);
    // Go: "<<-" followed by white space trims the text before; white space then "->>" the text
    // after.
    if (content.size() >= 2 && content[0] == '-' && IsSpace(content[1])) {
      while (!literal->empty() && IsSpace(literal->back())) literal->pop_back();
      content.remove_prefix(1);
    }
    if (content.size() >= 2 && content.back() == '-' && IsSpace(content[content.size() - 2])) {
      trim_next_ = true;
      content.remove_suffix(1);
    }
    while (!content.empty() && IsSpace(content.front())) content.remove_prefix(1);
    while (!content.empty() && IsSpace(content.back())) content.remove_suffix(1);
    *action = {content, open, close + 2, LineOf(text_, open)};
    pos_ = close + 2;
    return true;
  }

  // Parses nodes until the end of the source or an <<else ...>> / <<end>>, whose keyword goes to
  // `ended` (and its action to `end_action`).
  absl::Status List(int depth, std::vector<Node>* out, std::string* ended, Action* end_action) {
    if (depth > kMaxDepth) return Error(pos_, "templates nest more than 32 deep");
    while (true) {
      std::string literal;
      Action a;
      auto more = Next(&literal, &a);
      if (!more.ok()) return more.status();
      if (!literal.empty()) {
        Node t;
        t.kind = Node::Kind::kText;
        t.text = std::move(literal);
        out->push_back(std::move(t));
      }
      if (!*more) return absl::OkStatus();
      if (a.content.size() >= 4 && a.content.substr(0, 2) == "/*" &&
          a.content.substr(a.content.size() - 2) == "*/") {
        continue;  // a comment
      }
      std::string_view word =
          a.content.substr(0, std::find_if(a.content.begin(), a.content.end(), [](char c) {
                                return !IsIdentChar(c);
                              }) - a.content.begin());
      if (word == "end" || word == "else") {
        *ended = std::string(word);
        *end_action = a;
        return absl::OkStatus();
      }
      if (word == "if" || word == "range" || word == "with") {
        Node n;
        auto s = Block(depth, a, word, &n);
        if (!s.ok()) return s;
        out->push_back(std::move(n));
        continue;
      }
      if (word == "define" || word == "template" || word == "block" || word == "break" ||
          word == "continue") {
        return Unsupported(a, absl::StrCat(ToAbsl(word), " is not supported"));
      }
      Node n;
      n.kind = Node::Kind::kAction;
      n.line = a.line;
      n.begin = a.begin;
      n.end = a.end;
      auto s = Pipeline(a, a.content, /*range=*/false, &n);
      if (!s.ok()) return s;
      if (n.declare) {
        for (const auto& v : n.vars) vars_.push_back(v);
      }
      out->push_back(std::move(n));
    }
  }

  // if/range/with from its opening action `a` to its <<end>>.
  absl::Status Block(int depth, const Action& a, std::string_view word, Node* n) {
    n->kind = word == "if"      ? Node::Kind::kIf
              : word == "range" ? Node::Kind::kRange
                                : Node::Kind::kWith;
    n->line = a.line;
    n->begin = a.begin;
    std::string_view rest = a.content.substr(word.size());
    if (rest.empty() || !IsSpace(rest.front())) {
      return Unsupported(a, absl::StrCat(ToAbsl(word), " needs a pipeline"));
    }
    const size_t scope = vars_.size();
    auto s = Pipeline(a, rest, word == "range", n);
    if (!s.ok()) return s;
    for (const auto& v : n->vars) vars_.push_back(v);
    std::string ended;
    Action end_action;
    s = List(depth + 1, &n->body, &ended, &end_action);
    if (!s.ok()) return s;
    if (ended.empty()) {
      return Error(a.begin, absl::StrCat("<<", ToAbsl(word), ">> without <<end>>"));
    }
    if (ended == "else") {
      std::string_view else_rest = end_action.content.substr(4);
      while (!else_rest.empty() && IsSpace(else_rest.front())) else_rest.remove_prefix(1);
      if (!else_rest.empty()) {
        // <<else if p>>: an if nested in the else branch that shares this block's <<end>>.
        if (n->kind != Node::Kind::kIf || else_rest.substr(0, 2) != "if" || else_rest.size() < 3 ||
            !IsSpace(else_rest[2])) {
          return Unsupported(end_action, "else takes nothing, or `if pipeline` inside an if");
        }
        Action inner = end_action;
        inner.content = else_rest;
        Node nested;
        s = Block(depth + 1, inner, "if", &nested);
        if (!s.ok()) return s;
        n->end = nested.end;
        n->else_body.push_back(std::move(nested));
        vars_.resize(scope);
        return absl::OkStatus();
      }
      s = List(depth + 1, &n->else_body, &ended, &end_action);
      if (!s.ok()) return s;
      if (ended != "end") {
        return Error(ended.empty() ? a.begin : end_action.begin,
                     absl::StrCat("<<", ToAbsl(word), ">> ... <<else>> without <<end>>"));
      }
    }
    if (end_action.content != "end") return Unsupported(end_action, "end takes nothing");
    n->end = end_action.end;
    vars_.resize(scope);
    return absl::OkStatus();
  }

  // Tokens of an action's content.
  struct Token {
    enum class Kind {
      kField,
      kDot,
      kVar,
      kString,
      kInt,
      kIdent,
      kOpen,
      kClose,
      kDeclare,
      kAssign,
      kComma,
      kPipe
    };
    Kind kind;
    std::string text;  // name or unquoted string
    int64_t num = 0;
  };

  absl::StatusOr<std::vector<Token>> Lex(const Action& a, std::string_view s) const {
    std::vector<Token> out;
    size_t i = 0;
    auto ident_end = [&](size_t from) {
      while (from < s.size() && IsIdentChar(s[from])) ++from;
      return from;
    };
    while (i < s.size()) {
      char c = s[i];
      if (IsSpace(c)) {
        ++i;
      } else if (c == '.') {
        size_t j = ident_end(i + 1);
        if (j == i + 1) {
          out.push_back({Token::Kind::kDot, "."});
        } else {
          out.push_back({Token::Kind::kField, std::string(s.substr(i + 1, j - i - 1))});
        }
        i = j;
        if (i < s.size() && s[i] == '.') return Unsupported(a, "field chains are not supported");
      } else if (c == '$') {
        size_t j = ident_end(i + 1);
        out.push_back({Token::Kind::kVar, std::string(s.substr(i, j - i))});
        i = j;
        if (i < s.size() && s[i] == '.') {
          if (out.back().text != "$") {
            return Unsupported(a, "fields of variables are not supported, only $.Name");
          }
          size_t k = ident_end(i + 1);
          if (k == i + 1) return Unsupported(a, "a field name must follow $.");
          out.back() = {Token::Kind::kField, "$" + std::string(s.substr(i + 1, k - i - 1))};
          i = k;
          if (i < s.size() && s[i] == '.') return Unsupported(a, "field chains are not supported");
        }
      } else if (c == '"' || c == '`') {
        std::string value;
        size_t j = i + 1;
        bool closed = false;
        for (; j < s.size(); ++j) {
          if (s[j] == c) {
            closed = true;
            break;
          }
          if (c == '"' && s[j] == '\\' && j + 1 < s.size()) {
            char e = s[++j];
            value.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
            continue;
          }
          value.push_back(s[j]);
        }
        if (!closed) return Unsupported(a, "unterminated string");
        out.push_back({Token::Kind::kString, std::move(value)});
        i = j + 1;
      } else if (absl::ascii_isdigit(c) ||
                 (c == '-' && i + 1 < s.size() && absl::ascii_isdigit(s[i + 1]))) {
        size_t j = i + 1;
        while (j < s.size() && absl::ascii_isdigit(s[j])) ++j;
        int64_t n = 0;
        if (!absl::SimpleAtoi(ToAbsl(s.substr(i, j - i)), &n) ||
            (j < s.size() && IsIdentChar(s[j]))) {
          return Unsupported(a, "only decimal integers are supported");
        }
        out.push_back({Token::Kind::kInt, std::string(s.substr(i, j - i)), n});
        i = j;
      } else if (absl::ascii_isalpha(c) || c == '_') {
        size_t j = ident_end(i);
        out.push_back({Token::Kind::kIdent, std::string(s.substr(i, j - i))});
        i = j;
      } else if (c == '(' || c == ')' || c == ',' || c == '|') {
        out.push_back({c == '('   ? Token::Kind::kOpen
                       : c == ')' ? Token::Kind::kClose
                       : c == ',' ? Token::Kind::kComma
                                  : Token::Kind::kPipe,
                       std::string(1, c)});
        ++i;
      } else if (c == ':' && i + 1 < s.size() && s[i + 1] == '=') {
        out.push_back({Token::Kind::kDeclare, ":="});
        i += 2;
      } else if (c == '=') {
        out.push_back({Token::Kind::kAssign, "="});
        ++i;
      } else {
        return Unsupported(a, absl::StrCat("unexpected \"", std::string(1, c), "\""));
      }
    }
    return out;
  }

  // [ $v [, $w] := | = ] command, into n->vars / n->declare / n->pipe.
  absl::Status Pipeline(const Action& a, std::string_view content, bool range, Node* n) {
    auto tokens = Lex(a, content);
    if (!tokens.ok()) return tokens.status();
    std::vector<Token>& t = *tokens;
    size_t i = 0;
    // Declarations.
    size_t decl_end = 0;
    for (size_t j = 0; j < t.size(); ++j) {
      if (t[j].kind == Token::Kind::kDeclare || t[j].kind == Token::Kind::kAssign) {
        decl_end = j + 1;
        break;
      }
    }
    if (decl_end > 0) {
      n->declare = t[decl_end - 1].kind == Token::Kind::kDeclare;
      for (size_t j = 0; j + 1 < decl_end; ++j) {
        if (j % 2 == 0 && t[j].kind == Token::Kind::kVar && t[j].text != "$") {
          n->vars.push_back(t[j].text);
        } else if (j % 2 == 1 && t[j].kind == Token::Kind::kComma) {
          continue;
        } else {
          return Unsupported(a, "a declaration is $x := pipeline, or $i, $x := in range");
        }
      }
      if (n->vars.empty() || n->vars.size() > (range ? 2u : 1u) || (decl_end - 1) % 2 != 1) {
        return Unsupported(a, "a declaration is $x := pipeline, or $i, $x := in range");
      }
      if (!n->declare) {
        if (range) return Unsupported(a, "range declares its variables with :=");
        for (const auto& v : n->vars) {
          if (std::find(vars_.begin(), vars_.end(), v) == vars_.end()) {
            return Error(a.begin, absl::StrCat("undefined variable \"", v, "\""));
          }
        }
      }
      i = decl_end;
    }
    if (std::any_of(t.begin(), t.end(),
                    [](const Token& x) { return x.kind == Token::Kind::kPipe; })) {
      return Unsupported(a, "pipes \"|\" are not supported; call the function with arguments");
    }
    if (i == t.size()) return Unsupported(a, "missing value");
    auto e = Command(a, t, &i, /*nested=*/false);
    if (!e.ok()) return e.status();
    if (i != t.size()) return Unsupported(a, absl::StrCat("unexpected \"", t[i].text, "\""));
    n->pipe = *std::move(e);
    return absl::OkStatus();
  }

  // function operand... | operand, up to a ")" (nested) or the end.
  absl::StatusOr<Expr> Command(const Action& a, const std::vector<Token>& t, size_t* i,
                               bool nested) {
    if (*i < t.size() && t[*i].kind == Token::Kind::kIdent && t[*i].text != "true" &&
        t[*i].text != "false") {
      const std::string& fn = t[*i].text;
      if (std::find(kFunctionNames.begin(), kFunctionNames.end(), fn) == kFunctionNames.end()) {
        return Unsupported(a, absl::StrCat("function \"", fn, "\" is not supported"));
      }
      Expr call;
      call.kind = Expr::Kind::kCall;
      call.name = fn;
      ++*i;
      while (*i < t.size() && t[*i].kind != Token::Kind::kClose) {
        auto arg = Operand(a, t, i);
        if (!arg.ok()) return arg.status();
        call.args.push_back(*std::move(arg));
      }
      // index x keys...; len x; not x; and/or x y...; eq x y...; ne/lt/le/gt/ge x y.
      const size_t n = call.args.size();
      const bool ok = fn == "index" || fn == "and" || fn == "or" ? n >= 1
                      : fn == "len" || fn == "not"               ? n == 1
                      : fn == "eq"                               ? n >= 2
                                                                 : n == 2;
      if (!ok) return Unsupported(a, absl::StrCat("wrong number of arguments for ", fn));
      return call;
    }
    auto e = Operand(a, t, i);
    if (!e.ok()) return e.status();
    if (*i < t.size() && !(nested && t[*i].kind == Token::Kind::kClose)) {
      return Unsupported(a, absl::StrCat("can't give argument to non-function"));
    }
    return e;
  }

  absl::StatusOr<Expr> Operand(const Action& a, const std::vector<Token>& t, size_t* i) {
    const Token& tok = t[*i];
    Expr e;
    switch (tok.kind) {
      case Token::Kind::kField: {
        e.kind = Expr::Kind::kField;
        e.of_data = tok.text[0] == '$';
        e.name = e.of_data ? tok.text.substr(1) : tok.text;
        if (std::find(fields_.begin(), fields_.end(), e.name) == fields_.end()) {
          return Unsupported(a, absl::StrCat("no field .", e.name));
        }
        ++*i;
        return e;
      }
      case Token::Kind::kDot:
        ++*i;
        return e;
      case Token::Kind::kVar:
        if (tok.text != "$" && std::find(vars_.begin(), vars_.end(), tok.text) == vars_.end()) {
          return Error(a.begin, absl::StrCat("undefined variable \"", tok.text, "\""));
        }
        e.kind = Expr::Kind::kVar;
        e.name = tok.text;
        ++*i;
        return e;
      case Token::Kind::kString:
        e.kind = Expr::Kind::kString;
        e.name = tok.text;
        ++*i;
        return e;
      case Token::Kind::kInt:
        e.kind = Expr::Kind::kInt;
        e.num = tok.num;
        ++*i;
        return e;
      case Token::Kind::kIdent:
        if (tok.text == "true" || tok.text == "false") {
          e.kind = Expr::Kind::kBool;
          e.truth = tok.text == "true";
          ++*i;
          return e;
        }
        return Unsupported(a, absl::StrCat("\"", tok.text, "\" here needs parentheses"));
      case Token::Kind::kOpen: {
        if (++paren_depth_ > kMaxDepth) return Unsupported(a, "parentheses nest too deep");
        ++*i;
        auto inner = Command(a, t, i, /*nested=*/true);
        --paren_depth_;
        if (!inner.ok()) return inner.status();
        if (*i >= t.size() || t[*i].kind != Token::Kind::kClose) {
          return Unsupported(a, "missing \")\"");
        }
        ++*i;
        return inner;
      }
      default:
        return Unsupported(a, absl::StrCat("unexpected \"", tok.text, "\""));
    }
  }

  std::string_view text_;
  const std::vector<std::string_view>& fields_;
  size_t pos_ = 0;
  bool trim_next_ = false;
  int paren_depth_ = 0;
  std::vector<std::string> vars_;  // variables in scope
};

// A value during execution. Lists and maps point into the data, which outlives the run.
struct Val {
  enum class Kind { kNil, kData, kString, kInt, kBool, kList, kMap };
  Kind kind = Kind::kNil;
  std::string str;
  int64_t num = 0;
  bool truth = false;
  const std::vector<std::string>* list = nullptr;
  const std::map<std::string, std::string>* map = nullptr;

  static Val Str(std::string s) {
    Val v;
    v.kind = Kind::kString;
    v.str = std::move(s);
    return v;
  }
  static Val Int(int64_t n) {
    Val v;
    v.kind = Kind::kInt;
    v.num = n;
    return v;
  }
  static Val Bool(bool b) {
    Val v;
    v.kind = Kind::kBool;
    v.truth = b;
    return v;
  }
};

const char* TypeName(const Val& v) {
  switch (v.kind) {
    case Val::Kind::kNil:
      return "nil";
    case Val::Kind::kData:
      return "the data";
    case Val::Kind::kString:
      return "string";
    case Val::Kind::kInt:
      return "int";
    case Val::Kind::kBool:
      return "bool";
    case Val::Kind::kList:
      return "[]string";
    case Val::Kind::kMap:
      return "map[string]string";
  }
  return "?";
}

bool Truth(const Val& v) {
  switch (v.kind) {
    case Val::Kind::kNil:
      return false;
    case Val::Kind::kData:
      return true;
    case Val::Kind::kString:
      return !v.str.empty();
    case Val::Kind::kInt:
      return v.num != 0;
    case Val::Kind::kBool:
      return v.truth;
    case Val::Kind::kList:
      return !v.list->empty();
    case Val::Kind::kMap:
      return !v.map->empty();
  }
  return false;
}

class Executor {
 public:
  Executor(const TemplateData& data, size_t max_output) : data_(data), max_output_(max_output) {
    root_.kind = Val::Kind::kData;
  }

  absl::Status Walk(const std::vector<Node>& nodes, const Val& dot) {
    for (const Node& n : nodes) {
      if (++steps_ > GoTemplate::kMaxSteps) {
        return Error(n,
                     absl::StrCat("the template ran more than ", GoTemplate::kMaxSteps, " steps"));
      }
      absl::Status s = Run(n, dot);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::string& out() { return out_; }

 private:
  static absl::Status Error(const Node& n, std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("line ", n.line, ": ", ToAbsl(what)));
  }

  absl::Status Emit(const Node& n, std::string_view s) {
    if (out_.size() + s.size() > max_output_) {
      return Error(n, absl::StrCat("the query would exceed ", max_output_, " bytes"));
    }
    out_.append(s);
    return absl::OkStatus();
  }

  absl::Status Print(const Node& n, const Val& v) {
    switch (v.kind) {
      case Val::Kind::kNil:
        return Emit(n, "<no value>");
      case Val::Kind::kData:
        return Error(n, "the data itself cannot be printed; name one of its fields");
      case Val::Kind::kString:
        return Emit(n, v.str);
      case Val::Kind::kInt:
        return Emit(n, absl::StrCat(v.num));
      case Val::Kind::kBool:
        return Emit(n, v.truth ? "true" : "false");
      case Val::Kind::kList:
        return Emit(n, absl::StrCat("[", absl::StrJoin(*v.list, " "), "]"));
      case Val::Kind::kMap: {
        std::vector<std::string> parts;
        for (const auto& [k, val] : *v.map) parts.push_back(absl::StrCat(k, ":", val));
        return Emit(n, absl::StrCat("map[", absl::StrJoin(parts, " "), "]"));
      }
    }
    return absl::OkStatus();
  }

  void Declare(const std::string& name, Val v) { vars_.emplace_back(name, std::move(v)); }

  absl::Status Run(const Node& n, const Val& dot) {
    switch (n.kind) {
      case Node::Kind::kText:
        return Emit(n, n.text);
      case Node::Kind::kAction: {
        auto v = Eval(n, n.pipe, dot);
        if (!v.ok()) return v.status();
        if (n.vars.empty()) return Print(n, *v);
        if (n.declare) {
          Declare(n.vars[0], *std::move(v));
        } else {
          for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
            if (it->first == n.vars[0]) {
              it->second = *std::move(v);
              break;
            }
          }
        }
        return absl::OkStatus();
      }
      case Node::Kind::kIf:
      case Node::Kind::kWith: {
        auto v = Eval(n, n.pipe, dot);
        if (!v.ok()) return v.status();
        const size_t scope = vars_.size();
        if (!n.vars.empty()) Declare(n.vars[0], *v);
        absl::Status s = Truth(*v) ? Walk(n.body, n.kind == Node::Kind::kWith ? *v : dot)
                                   : Walk(n.else_body, dot);
        vars_.resize(scope);
        return s;
      }
      case Node::Kind::kRange: {
        auto v = Eval(n, n.pipe, dot);
        if (!v.ok()) return v.status();
        if (v->kind != Val::Kind::kList && v->kind != Val::Kind::kMap) {
          return Error(n, absl::StrCat("range can't iterate over ", TypeName(*v)));
        }
        const size_t scope = vars_.size();
        auto iteration = [&](const Val& key, const Val& elem) -> absl::Status {
          if (++steps_ > GoTemplate::kMaxSteps) {
            return Error(
                n, absl::StrCat("the template ran more than ", GoTemplate::kMaxSteps, " steps"));
          }
          vars_.resize(scope);
          if (n.vars.size() == 1) Declare(n.vars[0], elem);
          if (n.vars.size() == 2) {
            Declare(n.vars[0], key);
            Declare(n.vars[1], elem);
          }
          return Walk(n.body, elem);
        };
        absl::Status s;
        if (v->kind == Val::Kind::kList) {
          for (size_t i = 0; i < v->list->size() && s.ok(); ++i) {
            s = iteration(Val::Int(static_cast<int64_t>(i)), Val::Str((*v->list)[i]));
          }
        } else {
          for (auto it = v->map->begin(); it != v->map->end() && s.ok(); ++it) {
            s = iteration(Val::Str(it->first), Val::Str(it->second));
          }
        }
        vars_.resize(scope);
        if (!s.ok()) return s;
        bool empty = v->kind == Val::Kind::kList ? v->list->empty() : v->map->empty();
        return empty ? Walk(n.else_body, dot) : absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Val> Field(const Node& n, const std::string& name, const Val& on) {
    if (on.kind != Val::Kind::kData) {
      return Error(n, absl::StrCat("can't evaluate field ", name, " in type ", TypeName(on),
                                   " (inside range or with, write $.", name, ")"));
    }
    auto it = data_.find(name);
    if (it == data_.end()) return Error(n, absl::StrCat("field .", name, " has no value here"));
    const TemplateValue& tv = it->second;
    Val v;
    switch (tv.kind) {
      case TemplateValue::Kind::kString:
        return Val::Str(tv.str);
      case TemplateValue::Kind::kList:
        v.kind = Val::Kind::kList;
        v.list = &tv.list;
        return v;
      case TemplateValue::Kind::kMap:
        v.kind = Val::Kind::kMap;
        v.map = &tv.map;
        return v;
    }
    return v;
  }

  // Go's basic comparison: same kind of string, integer or boolean; -1, 0, 1.
  absl::StatusOr<int> Compare(const Node& n, const Val& a, const Val& b, bool ordered) {
    if (a.kind != b.kind) {
      return Error(n, absl::StrCat("incompatible types for comparison: ", TypeName(a), " and ",
                                   TypeName(b)));
    }
    switch (a.kind) {
      case Val::Kind::kString:
        return a.str < b.str ? -1 : a.str == b.str ? 0 : 1;
      case Val::Kind::kInt:
        return a.num < b.num ? -1 : a.num == b.num ? 0 : 1;
      case Val::Kind::kBool:
        if (!ordered) return a.truth == b.truth ? 0 : 1;
        [[fallthrough]];
      default:
        return Error(n, absl::StrCat("invalid type for comparison: ", TypeName(a)));
    }
  }

  absl::StatusOr<Val> Eval(const Node& n, const Expr& e, const Val& dot) {
    switch (e.kind) {
      case Expr::Kind::kDot:
        return dot;
      case Expr::Kind::kField:
        return Field(n, e.name, e.of_data ? root_ : dot);
      case Expr::Kind::kVar: {
        if (e.name == "$") return root_;
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
          if (it->first == e.name) return it->second;
        }
        return Error(n, absl::StrCat("undefined variable \"", e.name, "\""));
      }
      case Expr::Kind::kString:
        return Val::Str(e.name);
      case Expr::Kind::kInt:
        return Val::Int(e.num);
      case Expr::Kind::kBool:
        return Val::Bool(e.truth);
      case Expr::Kind::kCall:
        break;
    }
    std::vector<Val> args;
    for (const Expr& a : e.args) {
      auto v = Eval(n, a, dot);
      if (!v.ok()) return v.status();
      args.push_back(*std::move(v));
    }
    const std::string& fn = e.name;
    if (fn == "not") return Val::Bool(!Truth(args[0]));
    if (fn == "and" || fn == "or") {
      for (size_t i = 0; i + 1 < args.size(); ++i) {
        if (Truth(args[i]) == (fn == "or")) return args[i];
      }
      return args.back();
    }
    if (fn == "len") {
      switch (args[0].kind) {
        case Val::Kind::kString:
          return Val::Int(static_cast<int64_t>(args[0].str.size()));
        case Val::Kind::kList:
          return Val::Int(static_cast<int64_t>(args[0].list->size()));
        case Val::Kind::kMap:
          return Val::Int(static_cast<int64_t>(args[0].map->size()));
        default:
          return Error(n, absl::StrCat("len of type ", TypeName(args[0])));
      }
    }
    if (fn == "index") {
      Val v = args[0];
      for (size_t i = 1; i < args.size(); ++i) {
        const Val& k = args[i];
        if (v.kind == Val::Kind::kList || v.kind == Val::Kind::kString) {
          if (k.kind != Val::Kind::kInt) {
            return Error(n, absl::StrCat("cannot index ", TypeName(v), " with ", TypeName(k)));
          }
          size_t size = v.kind == Val::Kind::kList ? v.list->size() : v.str.size();
          if (k.num < 0 || static_cast<size_t>(k.num) >= size) {
            return Error(n, absl::StrCat("index out of range: ", k.num));
          }
          v = v.kind == Val::Kind::kList
                  ? Val::Str((*v.list)[static_cast<size_t>(k.num)])
                  : Val::Int(static_cast<unsigned char>(v.str[static_cast<size_t>(k.num)]));
        } else if (v.kind == Val::Kind::kMap) {
          if (k.kind != Val::Kind::kString) {
            return Error(n, absl::StrCat("cannot index ", TypeName(v), " with ", TypeName(k)));
          }
          auto it = v.map->find(k.str);
          v = Val::Str(it == v.map->end() ? "" : it->second);  // Go: the zero value
        } else {
          return Error(n, absl::StrCat("can't index item of type ", TypeName(v)));
        }
      }
      return v;
    }
    // eq a b c...: a equals any of the others; ne, lt, le, gt, ge: two arguments.
    if (fn == "eq") {
      for (size_t i = 1; i < args.size(); ++i) {
        auto c = Compare(n, args[0], args[i], false);
        if (!c.ok()) return c.status();
        if (*c == 0) return Val::Bool(true);
      }
      return Val::Bool(false);
    }
    auto c = Compare(n, args[0], args[1], fn != "ne");
    if (!c.ok()) return c.status();
    if (fn == "ne") return Val::Bool(*c != 0);
    if (fn == "lt") return Val::Bool(*c < 0);
    if (fn == "le") return Val::Bool(*c <= 0);
    if (fn == "gt") return Val::Bool(*c > 0);
    return Val::Bool(*c >= 0);  // ge
  }

  const TemplateData& data_;
  const size_t max_output_;
  Val root_;
  std::string out_;
  int64_t steps_ = 0;
  std::vector<std::pair<std::string, Val>> vars_;
};

bool ExprUses(const Expr& e, std::string_view name) {
  if (e.kind == Expr::Kind::kField && e.name == name) return true;
  return std::any_of(e.args.begin(), e.args.end(),
                     [&](const Expr& a) { return ExprUses(a, name); });
}

bool NodesUse(const std::vector<Node>& nodes, std::string_view name) {
  return std::any_of(nodes.begin(), nodes.end(), [&](const Node& n) {
    return (n.kind != Node::Kind::kText && ExprUses(n.pipe, name)) || NodesUse(n.body, name) ||
           NodesUse(n.else_body, name);
  });
}

}  // namespace

absl::StatusOr<GoTemplate> GoTemplate::Parse(std::string_view text,
                                             const std::vector<std::string_view>& fields) {
  Parser parser(text, fields);
  auto nodes = parser.Run();
  if (!nodes.ok()) return nodes.status();
  GoTemplate t;
  t.text_ = std::string(text);
  t.nodes_ = std::make_shared<const std::vector<Node>>(*std::move(nodes));
  return t;
}

absl::StatusOr<std::string> GoTemplate::Execute(const TemplateData& data,
                                                size_t max_output_bytes) const {
  Executor exec(data, max_output_bytes);
  Val root;
  root.kind = Val::Kind::kData;
  absl::Status s = exec.Walk(*nodes_, root);
  if (!s.ok()) return s;
  return std::move(exec.out());
}

std::string GoTemplate::Render(
    const std::map<std::string, std::string, std::less<>>& values) const {
  std::string out;
  for (const Node& n : *nodes_) {
    if (n.kind == Node::Kind::kText) {
      out += n.text;
      continue;
    }
    const bool lone_field =
        n.kind == Node::Kind::kAction && n.vars.empty() && n.pipe.kind == Expr::Kind::kField;
    if (lone_field) {
      auto it = values.find(n.pipe.name);
      if (it != values.end()) {
        out += it->second;
      } else {
        absl::StrAppend(&out, "<<.", n.pipe.name, ">>");
      }
    } else {
      out += text_.substr(n.begin, n.end - n.begin);  // executed in a later stage
    }
  }
  return out;
}

bool GoTemplate::Uses(std::string_view name) const { return NodesUse(*nodes_, name); }

}  // namespace aa::config
