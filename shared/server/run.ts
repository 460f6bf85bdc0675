import { ConfigError } from '../config';
import { componentLogger } from '../logger';
import type { RunningService } from './graphql-service';

/** Entry point of a standalone service process: start, report config problems, stop on signals. */
export function runService(name: string, start: () => Promise<RunningService>): void {
  const logger = componentLogger(name);
  start()
    .then((running) => {
      const stop = () => {
        running.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((error: unknown) => {
      if (error instanceof ConfigError) {
        process.stderr.write(`${name}: ${error.message}\n`);
      } else {
        logger.fatal({ err: { name: (error as Error)?.name, message: (error as Error)?.message } }, 'failed to start');
      }
      process.exit(1);
    });
}
