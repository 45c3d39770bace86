/* SPDX-License-Identifier: MIT */
/* A local SMTP sink for tests of alert e-mail: accepts every message on
 * 127.0.0.1 and appends it to a file.
 *
 *   smtp_sink --out FILE [--port N]
 *
 * Prints "smtp_sink listening on 127.0.0.1:PORT" once ready (--port 0: any).
 * Each message is written as "From: <sender>\nTo: <rcpt>...\n\n<data>\n.\n". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void say(FILE *w, const char *s) {
  fputs(s, w);
  fflush(w);
}

static void serve(int fd, const char *out) {
  FILE *r = fdopen(fd, "r"), *w = fdopen(dup(fd), "w");
  if (!r || !w) return;
  say(w, "220 smtp_sink ready\r\n");
  char line[4096], from[512] = "", rcpt[2048] = "";
  while (fgets(line, sizeof line, r)) {
    if (!strncasecmp(line, "EHLO", 4)) say(w, "250-smtp_sink\r\n250 8BITMIME\r\n");
    else if (!strncasecmp(line, "HELO", 4)) say(w, "250 smtp_sink\r\n");
    else if (!strncasecmp(line, "MAIL FROM:", 10)) {
      snprintf(from, sizeof from, "%.500s", line + 10);
      from[strcspn(from, "\r\n")] = '\0';
      rcpt[0] = '\0';
      say(w, "250 OK\r\n");
    } else if (!strncasecmp(line, "RCPT TO:", 8)) {
      size_t n = strlen(rcpt);
      if (n < sizeof rcpt - 520) snprintf(rcpt + n, sizeof rcpt - n, "%s%.500s", n ? " " : "", line + 8);
      rcpt[strcspn(rcpt, "\r\n")] = '\0';
      say(w, "250 OK\r\n");
    } else if (!strncasecmp(line, "DATA", 4)) {
      say(w, "354 end with <CRLF>.<CRLF>\r\n");
      FILE *f = fopen(out, "a");
      if (f) fprintf(f, "From: %s\nTo: %s\n\n", from, rcpt);
      while (fgets(line, sizeof line, r)) {
        if (!strcmp(line, ".\r\n") || !strcmp(line, ".\n")) break;
        line[strcspn(line, "\r\n")] = '\0';
        if (f) fprintf(f, "%s\n", line[0] == '.' ? line + 1 : line);
      }
      if (f) {
        fputs(".\n", f);
        fclose(f);
      }
      say(w, "250 OK: queued\r\n");
    } else if (!strncasecmp(line, "QUIT", 4)) {
      say(w, "221 bye\r\n");
      break;
    } else {
      say(w, "250 OK\r\n"); /* RSET, NOOP, anything else */
    }
  }
  fclose(r);
  fclose(w);
}

int main(int argc, char **argv) {
  const char *out = NULL;
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: smtp_sink --out FILE [--port N]\n");
      return 2;
    }
  }
  if (!out) {
    fprintf(stderr, "usage: smtp_sink --out FILE [--port N]\n");
    return 2;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
      getsockname(s, (struct sockaddr *)&a, &len) != 0) {
    perror("smtp_sink");
    return 1;
  }
  printf("smtp_sink listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c >= 0) serve(c, out);
  }
}
