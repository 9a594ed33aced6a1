// peer-driver: feeds the workload `lockstep-loadgen --emit-workload` wrote to Redis,
// SQLite or PostgreSQL, times the transfers, and writes the final balances in the format
// of `lockstep-loadgen --balances` (id,debits_posted,credits_posted per account, by id).
//
//   peer-driver freeport
//   peer-driver redis    --workload W --transfers N --balances OUT [--batch B] --port P
//   peer-driver sqlite   --workload W --transfers N --balances OUT [--batch B] --db FILE
//   peer-driver postgres --workload W --transfers N --balances OUT [--batch B] --port P
//
// The server (Redis, PostgreSQL) is started and stopped by run.sh; this program only
// talks to it. Prints one JSON line: system, transfers, committed, rejected, seconds,
// transfers_per_s. The timed phase runs from the first transfer sent to the last reply
// (every reply means the transfer's effects are durable: fsync before acknowledge).
//
// Written in C++ so that the driver is not what limits the peers: the workload is
// parsed before the timed phase, and a request costs the driver well under a
// microsecond to encode.

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Account {
  std::uint64_t id;
  std::uint32_t flags;
};
struct Transfer {
  std::uint64_t id, debit, credit, amount;
};
struct Workload {
  std::vector<Account> accounts;
  std::vector<Transfer> transfers;
};
struct Balance {
  std::uint64_t id, debits, credits;
};
struct Result {
  std::uint64_t committed = 0, rejected = 0;
  double seconds = 0;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "peer-driver: %s\n", what.c_str());
  std::exit(1);
}

std::uint64_t field(const char*& p, const char* end) {
  if (p >= end || *p < '0' || *p > '9') throw std::runtime_error("expected a number");
  std::uint64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + static_cast<std::uint64_t>(*p++ - '0');
  if (p < end && *p == ',') ++p;
  return v;
}

// The accounts and the first `limit` transfers.
Workload read_workload(const std::string& path, std::uint64_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open " + path);
  Workload w;
  std::string line;
  std::uint64_t n = 0;
  while (w.transfers.size() < limit && std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    const char* p = line.data() + 2;
    const char* end = line.data() + line.size();
    try {
      if (line.size() < 2 || line[1] != ',') throw std::runtime_error("expected A, or T,");
      if (line[0] == 'A') {
        const std::uint64_t id = field(p, end);
        w.accounts.push_back({id, static_cast<std::uint32_t>(field(p, end))});
      } else if (line[0] == 'T') {
        Transfer t;
        t.id = field(p, end);
        t.debit = field(p, end);
        t.credit = field(p, end);
        t.amount = field(p, end);
        w.transfers.push_back(t);
      } else {
        throw std::runtime_error("expected A, or T,");
      }
      if (p != end) throw std::runtime_error("trailing text");
    } catch (const std::exception& e) {
      fail(path + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  if (w.transfers.size() < limit) {
    fail(path + " holds " + std::to_string(w.transfers.size()) + " transfers, not " +
         std::to_string(limit));
  }
  return w;
}

void write_balances(const std::string& path, std::vector<Balance> rows) {
  std::sort(rows.begin(), rows.end(),
            [](const Balance& a, const Balance& b) { return a.id < b.id; });
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) fail("cannot write " + path);
  for (const Balance& r : rows) {
    std::fprintf(f, "%llu,%llu,%llu\n", static_cast<unsigned long long>(r.id),
                 static_cast<unsigned long long>(r.debits),
                 static_cast<unsigned long long>(r.credits));
  }
  if (std::fclose(f) != 0) fail("cannot write " + path);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- Redis ---------------------------------------------------------------------------
//
// An account is a hash a:<id> {d, c, f}; a transfer is a string t:<id> "debit,credit,amount".
// The transfer is one Lua script (atomic in Redis), sent with EVALSHA, `batch` per
// pipelined round trip. With appendfsync always, Redis writes and fsyncs the AOF before it
// sends the replies of an event-loop iteration: its group commit.

const char* kRedisScript = R"LUA(
local dk, ck, tk = KEYS[1], KEYS[2], KEYS[3]
if dk == ck then return 1 end
if redis.call('EXISTS', tk) == 1 then return 2 end
local a = tonumber(ARGV[1])
local dr = redis.call('HMGET', dk, 'd', 'c', 'f')
if not dr[1] then return 3 end
if redis.call('EXISTS', ck) == 0 then return 4 end
if bit.band(tonumber(dr[3]), 2) ~= 0 and tonumber(dr[1]) + a > tonumber(dr[2]) then return 5 end
redis.call('HINCRBY', dk, 'd', a)
redis.call('HINCRBY', ck, 'c', a)
redis.call('SET', tk, ARGV[2])
if ARGV[3] == '1' then
  local id = tonumber(ARGV[4])
  redis.call('ZADD', 'hd:' .. ARGV[5], id, id)
  redis.call('ZADD', 'hc:' .. ARGV[6], id, id)
end
return 0
)LUA";

// --history 1 (the default): every system also keeps each account's transfers in order,
// as the lockstep ledger's ordered indexes by_debit and by_credit do (the account history
// a ledger serves): Redis a sorted set per account and side, SQL an index on (account,
// id). --history 0 leaves them out.
bool g_history = true;

redisReply* redis_get(redisContext* c) {
  void* r = nullptr;
  if (redisGetReply(c, &r) != REDIS_OK || r == nullptr) {
    fail(std::string("redis: ") + (c->err ? c->errstr : "no reply"));
  }
  auto* reply = static_cast<redisReply*>(r);
  if (reply->type == REDIS_REPLY_ERROR) fail(std::string("redis: ") + reply->str);
  return reply;
}

Result run_redis(const Workload& w, int port, std::size_t batch, std::vector<Balance>* out) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr || c->err) fail("redis: cannot connect to port " + std::to_string(port));
  redisReply* r = static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", kRedisScript));
  if (r == nullptr || r->type != REDIS_REPLY_STRING) fail("redis: SCRIPT LOAD failed");
  const std::string sha(r->str, r->len);
  freeReplyObject(r);

  // Accounts (not timed).
  char k1[32], k2[32], k3[32], a1[32], a2[80], fl[16];
  for (std::size_t i = 0; i < w.accounts.size(); i += batch) {
    const std::size_t n = std::min(batch, w.accounts.size() - i);
    for (std::size_t k = 0; k < n; ++k) {
      const Account& a = w.accounts[i + k];
      std::snprintf(k1, sizeof k1, "a:%llu", static_cast<unsigned long long>(a.id));
      std::snprintf(fl, sizeof fl, "%u", a.flags);
      redisAppendCommand(c, "HSET %s d 0 c 0 f %s", k1, fl);
    }
    for (std::size_t k = 0; k < n; ++k) freeReplyObject(redis_get(c));
  }

  // Transfers (timed).
  Result res;
  const double start = now_s();
  const char* argv[12];
  std::size_t lens[12];
  char h1[32], h2[32], h3[32];
  argv[0] = "EVALSHA";
  argv[1] = sha.c_str();
  argv[2] = "3";
  argv[3] = k1;
  argv[4] = k2;
  argv[5] = k3;
  argv[6] = a1;
  argv[7] = a2;
  argv[8] = g_history ? "1" : "0";
  argv[9] = h1;
  argv[10] = h2;
  argv[11] = h3;
  lens[8] = 1;
  lens[0] = 7;
  lens[1] = sha.size();
  lens[2] = 1;
  for (std::size_t i = 0; i < w.transfers.size(); i += batch) {
    const std::size_t n = std::min(batch, w.transfers.size() - i);
    for (std::size_t k = 0; k < n; ++k) {
      const Transfer& t = w.transfers[i + k];
      lens[3] = static_cast<std::size_t>(
          std::snprintf(k1, sizeof k1, "a:%llu", static_cast<unsigned long long>(t.debit)));
      lens[4] = static_cast<std::size_t>(
          std::snprintf(k2, sizeof k2, "a:%llu", static_cast<unsigned long long>(t.credit)));
      lens[5] = static_cast<std::size_t>(
          std::snprintf(k3, sizeof k3, "t:%llu", static_cast<unsigned long long>(t.id)));
      lens[6] = static_cast<std::size_t>(
          std::snprintf(a1, sizeof a1, "%llu", static_cast<unsigned long long>(t.amount)));
      lens[7] = static_cast<std::size_t>(std::snprintf(
          a2, sizeof a2, "%llu,%llu,%llu", static_cast<unsigned long long>(t.debit),
          static_cast<unsigned long long>(t.credit), static_cast<unsigned long long>(t.amount)));
      lens[9] = static_cast<std::size_t>(
          std::snprintf(h1, sizeof h1, "%llu", static_cast<unsigned long long>(t.id)));
      lens[10] = static_cast<std::size_t>(
          std::snprintf(h2, sizeof h2, "%llu", static_cast<unsigned long long>(t.debit)));
      lens[11] = static_cast<std::size_t>(
          std::snprintf(h3, sizeof h3, "%llu", static_cast<unsigned long long>(t.credit)));
      if (redisAppendCommandArgv(c, 12, argv, lens) != REDIS_OK) fail("redis: append failed");
    }
    for (std::size_t k = 0; k < n; ++k) {
      redisReply* reply = redis_get(c);
      if (reply->type != REDIS_REPLY_INTEGER) fail("redis: the script did not return a code");
      (reply->integer == 0 ? res.committed : res.rejected) += 1;
      freeReplyObject(reply);
    }
  }
  res.seconds = now_s() - start;

  // Balances (not timed).
  for (std::size_t i = 0; i < w.accounts.size(); i += batch) {
    const std::size_t n = std::min(batch, w.accounts.size() - i);
    for (std::size_t k = 0; k < n; ++k) {
      std::snprintf(k1, sizeof k1, "a:%llu", static_cast<unsigned long long>(w.accounts[i + k].id));
      redisAppendCommand(c, "HMGET %s d c", k1);
    }
    for (std::size_t k = 0; k < n; ++k) {
      redisReply* reply = redis_get(c);
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
          reply->element[0]->type != REDIS_REPLY_STRING ||
          reply->element[1]->type != REDIS_REPLY_STRING) {
        fail("redis: account " + std::to_string(w.accounts[i + k].id) + " is missing");
      }
      out->push_back({w.accounts[i + k].id, std::strtoull(reply->element[0]->str, nullptr, 10),
                      std::strtoull(reply->element[1]->str, nullptr, 10)});
      freeReplyObject(reply);
    }
  }
  redisFree(c);
  return res;
}

// ---- SQLite --------------------------------------------------------------------------
//
// WAL, synchronous=FULL (the WAL is fsynced at every commit), `batch` transfers per
// transaction. A transfer is three statements: the debit UPDATE carries every check in
// its WHERE (accounts different, id not taken, credit account exists, the limit), so it
// changes one row or none; then the credit UPDATE and the INSERT of the transfer.

void sq_check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fail(std::string("sqlite: ") + what + ": " + sqlite3_errmsg(db));
  }
}
void sq_exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    fail(std::string("sqlite: ") + sql + ": " + (err ? err : "?"));
  }
}
sqlite3_stmt* sq_prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  sq_check(db, sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr), sql);
  return s;
}
void sq_step(sqlite3* db, sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) sq_check(db, rc == SQLITE_ROW ? SQLITE_ERROR : rc, sqlite3_sql(s));
  sqlite3_reset(s);
}

Result run_sqlite(const Workload& w, const std::string& path, std::size_t batch,
                  std::vector<Balance>* out) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) fail("sqlite: cannot open " + path);
  sq_exec(db, "PRAGMA journal_mode=WAL");
  sq_exec(db, "PRAGMA synchronous=FULL");
  sq_exec(db, "PRAGMA cache_size=-262144");  // 256 MiB: everything stays cached
  sq_exec(db,
          "CREATE TABLE accounts (id INTEGER PRIMARY KEY, debits_posted INTEGER NOT NULL,"
          " credits_posted INTEGER NOT NULL, flags INTEGER NOT NULL);"
          "CREATE TABLE transfers (id INTEGER PRIMARY KEY, debit_account_id INTEGER NOT NULL,"
          " credit_account_id INTEGER NOT NULL, amount INTEGER NOT NULL);");
  if (g_history) {
    sq_exec(db,
            "CREATE INDEX transfers_by_debit ON transfers (debit_account_id, id);"
            "CREATE INDEX transfers_by_credit ON transfers (credit_account_id, id);");
  }
  // Accounts (not timed).
  sqlite3_stmt* ins_account =
      sq_prepare(db,
                 "INSERT INTO accounts (id, debits_posted, credits_posted, flags)"
                 " VALUES (?1, 0, 0, ?2)");
  sq_exec(db, "BEGIN");
  for (const Account& a : w.accounts) {
    sqlite3_bind_int64(ins_account, 1, static_cast<sqlite3_int64>(a.id));
    sqlite3_bind_int64(ins_account, 2, a.flags);
    sq_step(db, ins_account);
  }
  sq_exec(db, "COMMIT");
  sq_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");

  sqlite3_stmt* debit =
      sq_prepare(db,
                 "UPDATE accounts SET debits_posted = debits_posted + ?4"
                 " WHERE id = ?2 AND ?2 <> ?3"
                 " AND NOT EXISTS (SELECT 1 FROM transfers WHERE id = ?1)"
                 " AND EXISTS (SELECT 1 FROM accounts WHERE id = ?3)"
                 " AND ((flags & 2) = 0 OR debits_posted + ?4 <= credits_posted)");
  sqlite3_stmt* credit =
      sq_prepare(db, "UPDATE accounts SET credits_posted = credits_posted + ?2 WHERE id = ?1");
  sqlite3_stmt* record =
      sq_prepare(db,
                 "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount)"
                 " VALUES (?1, ?2, ?3, ?4)");
  sqlite3_stmt* begin = sq_prepare(db, "BEGIN");
  sqlite3_stmt* commit = sq_prepare(db, "COMMIT");

  // Transfers (timed).
  Result res;
  const double start = now_s();
  for (std::size_t i = 0; i < w.transfers.size(); i += batch) {
    const std::size_t n = std::min(batch, w.transfers.size() - i);
    sq_step(db, begin);
    for (std::size_t k = 0; k < n; ++k) {
      const Transfer& t = w.transfers[i + k];
      sqlite3_bind_int64(debit, 1, static_cast<sqlite3_int64>(t.id));
      sqlite3_bind_int64(debit, 2, static_cast<sqlite3_int64>(t.debit));
      sqlite3_bind_int64(debit, 3, static_cast<sqlite3_int64>(t.credit));
      sqlite3_bind_int64(debit, 4, static_cast<sqlite3_int64>(t.amount));
      sq_step(db, debit);
      if (sqlite3_changes(db) != 1) {
        ++res.rejected;
        continue;
      }
      sqlite3_bind_int64(credit, 1, static_cast<sqlite3_int64>(t.credit));
      sqlite3_bind_int64(credit, 2, static_cast<sqlite3_int64>(t.amount));
      sq_step(db, credit);
      if (sqlite3_changes(db) != 1) fail("sqlite: the credit account vanished");
      sqlite3_bind_int64(record, 1, static_cast<sqlite3_int64>(t.id));
      sqlite3_bind_int64(record, 2, static_cast<sqlite3_int64>(t.debit));
      sqlite3_bind_int64(record, 3, static_cast<sqlite3_int64>(t.credit));
      sqlite3_bind_int64(record, 4, static_cast<sqlite3_int64>(t.amount));
      sq_step(db, record);
      ++res.committed;
    }
    sq_step(db, commit);
  }
  res.seconds = now_s() - start;

  // Balances (not timed).
  sqlite3_stmt* q =
      sq_prepare(db, "SELECT id, debits_posted, credits_posted FROM accounts ORDER BY id");
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    out->push_back({static_cast<std::uint64_t>(sqlite3_column_int64(q, 0)),
                    static_cast<std::uint64_t>(sqlite3_column_int64(q, 1)),
                    static_cast<std::uint64_t>(sqlite3_column_int64(q, 2))});
  }
  sq_check(db, rc, "reading the balances");
  for (sqlite3_stmt* s : {ins_account, debit, credit, record, begin, commit, q}) {
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return res;
}

// ---- PostgreSQL ----------------------------------------------------------------------
//
// The transfer logic is a PL/pgSQL function that takes a batch as four arrays and
// returns how many it committed; each call is one transaction (autocommit), so with
// synchronous_commit=on its WAL is flushed (fsync) before the reply.

const char* kPgSchema = R"SQL(
CREATE TABLE accounts (
  id bigint PRIMARY KEY,
  debits_posted bigint NOT NULL,
  credits_posted bigint NOT NULL,
  flags integer NOT NULL
);
CREATE TABLE transfers (
  id bigint PRIMARY KEY,
  debit_account_id bigint NOT NULL,
  credit_account_id bigint NOT NULL,
  amount bigint NOT NULL
);
CREATE FUNCTION create_transfers(ids bigint[], drs bigint[], crs bigint[], amts bigint[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  committed integer := 0;
BEGIN
  FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP
    CONTINUE WHEN drs[i] = crs[i];
    CONTINUE WHEN EXISTS (SELECT 1 FROM transfers WHERE id = ids[i]);
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM accounts WHERE id = crs[i]);
    UPDATE accounts SET debits_posted = debits_posted + amts[i]
      WHERE id = drs[i] AND (flags & 2 = 0 OR debits_posted + amts[i] <= credits_posted);
    CONTINUE WHEN NOT FOUND;
    UPDATE accounts SET credits_posted = credits_posted + amts[i] WHERE id = crs[i];
    INSERT INTO transfers (id, debit_account_id, credit_account_id, amount)
      VALUES (ids[i], drs[i], crs[i], amts[i]);
    committed := committed + 1;
  END LOOP;
  RETURN committed;
END
$$;
)SQL";

PGresult* pg_ok(PGconn* c, PGresult* r, const char* what) {
  const ExecStatusType s = PQresultStatus(r);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_COPY_IN) {
    fail(std::string("postgres: ") + what + ": " + PQerrorMessage(c));
  }
  return r;
}
void pg_exec(PGconn* c, const char* sql) { PQclear(pg_ok(c, PQexec(c, sql), sql)); }

void append_u64(std::string& s, std::uint64_t v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  s.append(buf, static_cast<std::size_t>(n));
}

Result run_postgres(const Workload& w, int port, std::size_t batch, std::vector<Balance>* out) {
  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=postgres";
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) fail(std::string("postgres: ") + PQerrorMessage(c));
  pg_exec(c, kPgSchema);
  if (g_history) {
    pg_exec(c,
            "CREATE INDEX transfers_by_debit ON transfers (debit_account_id, id);"
            "CREATE INDEX transfers_by_credit ON transfers (credit_account_id, id);");
  }

  // Accounts (not timed), with COPY.
  PQclear(pg_ok(c, PQexec(c, "COPY accounts FROM STDIN (FORMAT csv)"), "COPY"));
  std::string data;
  for (const Account& a : w.accounts) {
    append_u64(data, a.id);
    data += ",0,0,";
    append_u64(data, a.flags);
    data += '\n';
  }
  if (PQputCopyData(c, data.data(), static_cast<int>(data.size())) != 1 ||
      PQputCopyEnd(c, nullptr) != 1) {
    fail(std::string("postgres: COPY: ") + PQerrorMessage(c));
  }
  PQclear(pg_ok(c, PQgetResult(c), "COPY"));
  pg_exec(c, "VACUUM ANALYZE accounts");
  pg_exec(c, "CHECKPOINT");

  PQclear(pg_ok(c,
                PQprepare(c, "batch",
                          "SELECT create_transfers($1::bigint[], $2::bigint[], $3::bigint[],"
                          " $4::bigint[])",
                          4, nullptr),
                "PREPARE"));

  // Transfers (timed): one call, one transaction, per batch.
  Result res;
  std::string arr[4];
  const double start = now_s();
  for (std::size_t i = 0; i < w.transfers.size(); i += batch) {
    const std::size_t n = std::min(batch, w.transfers.size() - i);
    for (std::string& s : arr) s.assign(1, '{');
    for (std::size_t k = 0; k < n; ++k) {
      const Transfer& t = w.transfers[i + k];
      if (k != 0) {
        for (std::string& s : arr) s += ',';
      }
      append_u64(arr[0], t.id);
      append_u64(arr[1], t.debit);
      append_u64(arr[2], t.credit);
      append_u64(arr[3], t.amount);
    }
    for (std::string& s : arr) s += '}';
    const char* values[4] = {arr[0].c_str(), arr[1].c_str(), arr[2].c_str(), arr[3].c_str()};
    PGresult* r =
        pg_ok(c, PQexecPrepared(c, "batch", 4, values, nullptr, nullptr, 0), "create_transfers");
    const std::uint64_t committed = std::strtoull(PQgetvalue(r, 0, 0), nullptr, 10);
    PQclear(r);
    res.committed += committed;
    res.rejected += n - committed;
  }
  res.seconds = now_s() - start;

  // Balances (not timed).
  PGresult* r =
      pg_ok(c, PQexec(c, "SELECT id, debits_posted, credits_posted FROM accounts ORDER BY id"),
            "reading the balances");
  for (int row = 0; row < PQntuples(r); ++row) {
    out->push_back({std::strtoull(PQgetvalue(r, row, 0), nullptr, 10),
                    std::strtoull(PQgetvalue(r, row, 1), nullptr, 10),
                    std::strtoull(PQgetvalue(r, row, 2), nullptr, 10)});
  }
  PQclear(r);
  PQfinish(c);
  return res;
}

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    fail("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) fail("usage: peer-driver freeport | redis|sqlite|postgres --workload W ...");
  const std::string system = argv[1];
  if (system == "freeport") {
    std::printf("%d\n", free_port());
    return 0;
  }
  std::map<std::string, std::string> opt;
  for (int i = 2; i + 1 < argc; i += 2) opt[argv[i]] = argv[i + 1];
  const auto need = [&](const char* k) {
    const auto it = opt.find(k);
    if (it == opt.end()) fail(std::string("missing ") + k);
    return it->second;
  };
  const std::uint64_t transfers = std::strtoull(need("--transfers").c_str(), nullptr, 10);
  const std::size_t batch =
      opt.count("--batch") ? std::strtoull(opt["--batch"].c_str(), nullptr, 10) : 1000;
  if (batch == 0) fail("--batch must be positive");
  if (opt.count("--history")) g_history = opt["--history"] != "0";
  const Workload w = read_workload(need("--workload"), transfers);
  std::vector<Balance> balances;
  Result r;
  if (system == "redis") {
    r = run_redis(w, std::atoi(need("--port").c_str()), batch, &balances);
  } else if (system == "sqlite") {
    r = run_sqlite(w, need("--db"), batch, &balances);
  } else if (system == "postgres") {
    r = run_postgres(w, std::atoi(need("--port").c_str()), batch, &balances);
  } else {
    fail("unknown system " + system);
  }
  write_balances(need("--balances"), std::move(balances));
  std::printf(
      "{\"system\":\"%s\",\"transfers\":%llu,\"committed\":%llu,\"rejected\":%llu,"
      "\"seconds\":%.6f,\"transfers_per_s\":%.1f}\n",
      system.c_str(), static_cast<unsigned long long>(w.transfers.size()),
      static_cast<unsigned long long>(r.committed), static_cast<unsigned long long>(r.rejected),
      r.seconds, static_cast<double>(w.transfers.size()) / r.seconds);
  return 0;
}
