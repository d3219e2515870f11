/* The transport-independent part of the HTTP seam: request values and response clean-up. */
#include <leakwatch/http.h>

#include <stdlib.h>
#include <string.h>

enum lw_err lw_http_request_add_header(struct lw_http_request *req, const char *name,
                                       const char *value)
{
    if (req->n_headers >= LW_HTTP_MAX_HEADERS)
        return LW_ERR_FULL;
    req->headers[req->n_headers].name = name;
    req->headers[req->n_headers].value = value;
    req->n_headers++;
    return LW_OK;
}

void lw_http_response_clean_up(struct lw_http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}
