import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { isAbortError } from './abort';
import { readNdjson } from './ndjson';
import { ITaskInfo, readTaskList } from './tasks';
import { ICompleteBody, IStreamResult, ITaskBody, OnStreamText, streamResult } from './wire';
import { IRoleModels, IRoles, IRoleStatus } from './modelChoice';

export const API_PREFIX = 'jupyter-twin';

export interface IStatus {
  backend: string;
  model: string | null;
  family?: string | null;
  host?: string | null;
  reachable: boolean;
  error: string | null;
  last_latency: { [task: string]: number };
  server_latency?: { [task: string]: number };
  server?: { [key: string]: unknown };
  /** per role: the backend and model serving completions and chat */
  roles?: IRoles<IRoleStatus>;
}

/** An error of the server with its status (400: a model the backend does not list). */
export class TwinHttpError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/** Talks to the server extension; every request carries the token and XSRF headers. */
export class TwinClient {
  readonly settings: ServerConnection.ISettings;

  constructor(settings?: ServerConnection.ISettings) {
    this.settings = settings ?? ServerConnection.makeSettings();
  }

  url(endpoint: string): string {
    return URLExt.join(this.settings.baseUrl, API_PREFIX, endpoint);
  }

  async getJSON<T>(endpoint: string): Promise<T> {
    const response = await ServerConnection.makeRequest(
      this.url(endpoint),
      { method: 'GET' },
      this.settings
    );
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(data.message || `${response.status} ${response.statusText}`);
    }
    return data as T;
  }

  status(): Promise<IStatus> {
    return this.getJSON<IStatus>('status');
  }

  /** The chat tasks (tasks.py) the buttons and commands are built from. */
  async tasks(): Promise<ITaskInfo[]> {
    return readTaskList(await this.getJSON<unknown>('tasks'));
  }

  async models(): Promise<string[]> {
    const data = await this.getJSON<{ models: string[] }>('models');
    return data.models;
  }

  /** Per role, the model in use and the models its backend offers (the picker's lists). */
  async modelRoles(): Promise<IRoles<IRoleModels>> {
    const data = await this.getJSON<{ roles?: IRoles<IRoleModels> | null }>('models');
    return data.roles ?? {};
  }

  /** Serve a role with another listed model from the next request on; a name the
   * backend does not list throws a TwinHttpError (400) with the server's message. */
  async pickModels(choices: IRoles<string | null>): Promise<IRoles<IRoleModels>> {
    const response = await ServerConnection.makeRequest(
      this.url('models'),
      {
        method: 'POST',
        body: JSON.stringify(choices),
        headers: { 'Content-Type': 'application/json' }
      },
      this.settings
    );
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new TwinHttpError(
        data.message || `${response.status} ${response.statusText}`,
        response.status
      );
    }
    return data.roles ?? {};
  }

  complete(
    body: ICompleteBody,
    onText: OnStreamText,
    signal: AbortSignal
  ): Promise<IStreamResult> {
    return this.stream('complete', body, onText, signal);
  }

  /**
   * Ask the server to evaluate this context now (no generation), or with `prefetch` to
   * generate and cache the completion at this cursor. Fire and forget: a server without
   * the endpoint (404) or any failure is ignored; `started` when the server took it.
   */
  async warm(body: ICompleteBody, prefetch = false): Promise<boolean> {
    try {
      const response = await ServerConnection.makeRequest(
        this.url('warm'),
        {
          method: 'POST',
          body: JSON.stringify(prefetch ? { ...body, prefetch: true } : body),
          headers: { 'Content-Type': 'application/json' }
        },
        this.settings
      );
      if (!response.ok) {
        return false;
      }
      const data = await response.json().catch(() => ({}));
      return data.started === true;
    } catch {
      return false;
    }
  }

  task(
    body: ITaskBody,
    onText: (raw: string, delta: string) => void,
    signal: AbortSignal
  ): Promise<IStreamResult> {
    return this.stream('task', body, onText, signal);
  }

  /** POST a body, read the NDJSON answer; errors come back in the result, not thrown. */
  async stream(
    endpoint: string,
    body: object,
    onText: OnStreamText,
    signal: AbortSignal
  ): Promise<IStreamResult> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        this.url(endpoint),
        {
          method: 'POST',
          body: JSON.stringify(body),
          signal,
          headers: { 'Content-Type': 'application/json' }
        },
        this.settings
      );
    } catch (err) {
      if (signal.aborted || isAbortError(err)) {
        return streamResult({ cancelled: true });
      }
      return streamResult({
        error: `cannot reach the Jupyter server: ${(err as Error).message ?? err}`,
        errorType: 'NetworkError'
      });
    }
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      return streamResult({
        error: data.message || `${response.status} ${response.statusText}`,
        errorType: data.error_type || `HTTP${response.status}`
      });
    }
    if (!response.body) {
      return streamResult({ error: 'the server sent no body', errorType: 'NoBody' });
    }
    try {
      return await readNdjson(response.body, onText, signal);
    } catch (err) {
      if (signal.aborted || isAbortError(err)) {
        return streamResult({ cancelled: true });
      }
      return streamResult({ error: String((err as Error).message ?? err), errorType: 'StreamError' });
    }
  }
}
